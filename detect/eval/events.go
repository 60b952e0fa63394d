package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/custos-dev/custos/sim"
)

// WriteEvents writes a scenario's access and login events, sealed with
// the evaluation's blind index, as NDJSON in time order: the input of
// `custos detect --replay`. It returns the number of events written.
func WriteEvents(w io.Writer, sc *sim.Scenario) (int, error) {
	o := sc.Org()
	idx := Index(sc.Seed)
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	n := 0
	err := sim.Generate(o, sim.SuiteStart, sc.Days, []*sim.Scenario{sc}, func(ev sim.Event) error {
		switch {
		case ev.Access != nil:
			a := *ev.Access
			a.Subjects = slices.Clone(a.Subjects)
			if err := idx.Seal(&a); err != nil {
				return fmt.Errorf("eval: seal %s: %w", a.ID, err)
			}
			n++
			return enc.Encode(&a)
		case ev.Login != nil:
			n++
			return enc.Encode(ev.Login)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}
