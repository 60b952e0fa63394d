package httpgw

import (
	"io"

	"github.com/custos-dev/custos/pii"
)

// textChunk is how much text the streaming text rewriter scans at once.
const textChunk = 64 << 10

// textRewriter masks personal data in running text (HTML, plain text, CSV
// too large to buffer) as it streams: it scans chunks and keeps the last
// pii.MaxMatchLen bytes back so that an identifier across a chunk boundary
// is still found whole.
type textRewriter struct {
	out     io.Writer
	in      *inspection
	replace func(text []byte, m pii.Match) []byte
	buf     []byte
	ms      []pii.Match
}

func (t *textRewriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) >= textChunk+pii.MaxMatchLen {
		if err := t.process(false); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (t *textRewriter) Close() error { return t.process(true) }

func (t *textRewriter) process(final bool) error {
	t.ms = t.in.det.AppendMatches(t.ms[:0], t.buf)
	cut := len(t.buf)
	if !final {
		cut -= pii.MaxMatchLen
	}
	var out []byte
	last := 0
	for _, m := range t.ms {
		if m.Offset+m.Length > cut {
			if m.Offset < cut {
				cut = m.Offset
			}
			break
		}
		t.in.noteMatch(t.buf, m)
		out = append(out, t.buf[last:m.Offset]...)
		out = append(out, t.replace(t.buf, m)...)
		last = m.Offset + m.Length
	}
	out = append(out, t.buf[last:cut]...)
	n := copy(t.buf, t.buf[cut:])
	t.buf = t.buf[:n]
	_, err := t.out.Write(out)
	return err
}

// noteMatch records the type and subject of a match in text.
func (in *inspection) noteMatch(text []byte, m pii.Match) {
	in.addType(m.Type, "")
	in.addDetected(m.Type, text[m.Offset:m.Offset+m.Length])
}
