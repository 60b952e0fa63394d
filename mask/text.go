package mask

import (
	"strings"

	"github.com/custos-dev/custos/pii"
)

// Text masks, with Partial, the personal information the detectors find in
// free text: error messages that quote their input, NOTIFY payloads,
// notes, a requester's reason. Text without any is returned as it is.
func Text(s string) string {
	ms := pii.Find([]byte(s))
	if len(ms) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m.Offset])
		b.WriteString(Partial(m.Type, s[m.Offset:m.Offset+m.Length]))
		last = m.Offset + m.Length
	}
	b.WriteString(s[last:])
	return b.String()
}
