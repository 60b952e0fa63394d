package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/pii"
)

// Options tune a file scan. The zero value scans with all cores, masked
// values and every finding the detectors report.
type Options struct {
	// Workers run the detectors; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// Reveal puts raw values in findings instead of masked ones.
	Reveal bool
	// MinConfidence drops findings below it (the detectors already drop
	// those below pii.MinConfidence).
	MinConfidence float64
	// ChunkSize is how many bytes one detector call reads; 0 means 1 MiB.
	// Memory is about (5×Workers+5) × ChunkSize.
	ChunkSize int
	// MaxDepth bounds nested archives (a.zip!b.tar.gz!c.csv is depth 3);
	// 0 means 4.
	MaxDepth int
	// MaxBuffered is the largest archive member or xlsx/docx file held in
	// memory to be opened (zip needs random access); larger ones are
	// skipped with a note. 0 means 256 MiB.
	MaxBuffered int64
	// Progress, when not nil, receives a one-line progress display
	// (carriage returns, for a terminal) every 200 ms.
	Progress io.Writer
}

const (
	defaultChunk = 1 << 20
	// The detectors see margin bytes on each side of the bytes a chunk
	// owns, so a match is found whole, with its context words, in exactly
	// one chunk. pii.MaxMatchLen bounds a match; context windows are
	// shorter still.
	margin  = 4 * pii.MaxMatchLen
	overlap = 2 * margin
	// queue is how many units per worker wait for one. The reader runs on
	// a core only when a worker blocks or the scheduler preempts one
	// (every 10 ms); with one unit per worker queued, the workers used to
	// drain the queue and wait for it on text that the detectors pass
	// quickly (prose: about 2 ms per MiB), 8 % of their time.
	queue = 4
)

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = defaultChunk
	}
	if o.ChunkSize < overlap {
		o.ChunkSize = overlap
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 4
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = 256 << 20
	}
	return o
}

// unit is one piece of work for a detector worker, and one slot in the
// ordered output. Units reach the sink in the order the reader made them.
type unit struct {
	path     string
	location string
	base     int64 // offset of text[0] in the file or extracted text
	text     []byte
	own0     int // findings starting in [own0, own1) belong to this unit
	own1     int
	cells    []cell // xlsx: where each cell's text starts in text
	pooled   bool   // text came from the chunk pool
	// Decoded text (UTF-16, GB18030): orig[i] is the offset, from base,
	// in the original bytes of the character text[i] belongs to;
	// orig[len(text)] is where the next unit's text starts.
	orig     []int32
	encoding string
	shown    []byte // Big5: text as written; text is folded (fold.go)

	matches []pii.Match // found by the worker, in u.own0..u.own1
	values  []string    // the matches' values, masked unless revealed
	minors  []int       // indexes of the cn_id matches of children under MinorAge
	note    *Note
	files   int   // inputs this unit completes (counted in the summary)
	bytes   int64 // bytes this unit adds to the summary
	done    chan struct{}
}

// cell marks where one spreadsheet cell's text starts in a unit's text.
type cell struct {
	start int
	ref   string // "Sheet1!B7"
}

// Files scans the files and directories in paths and sends findings and
// notes to sink in order: inputs in the order given (directories in
// lexical order), findings of one input by offset. A path that does not
// exist or cannot be read is a note of kind "error", and the scan goes
// on. The error returned is a failure of the scan itself (a sink that
// cannot write, a cancelled context); the summary is valid either way.
func Files(ctx context.Context, paths []string, opt Options, sink Sink) (Summary, error) {
	inputs, total := collect(paths)
	return run(ctx, opt, sink, total, len(inputs), func(ctx context.Context, s *scanner) {
		for _, in := range inputs {
			if ctx.Err() != nil {
				return
			}
			if in.err != nil {
				s.noteErr(ctx, in.path, in.err)
				continue
			}
			s.file(ctx, in.path)
		}
	})
}

// Reader scans one stream (standard input, an HTTP body) named name in
// findings. Archives and documents in it are opened as in Files; a zip
// or xlsx is held in memory up to Options.MaxBuffered to be opened.
func Reader(ctx context.Context, r io.Reader, name string, opt Options, sink Sink) (Summary, error) {
	return run(ctx, opt, sink, 0, 1, func(ctx context.Context, s *scanner) {
		s.stream(ctx, countingReader{r: r, n: &s.read}, nil, name, 0)
		s.files.Add(1)
	})
}

// run starts the workers, lets produce read the inputs and submit units,
// and hands the results to sink in the order they were submitted.
func run(ctx context.Context, opt Options, sink Sink, total int64, files int, produce func(context.Context, *scanner)) (Summary, error) {
	opt = opt.withDefaults()
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	s := &scanner{
		opt:   opt,
		now:   time.Now(),
		work:  make(chan *unit, queue*opt.Workers),
		order: make(chan *unit, (queue+1)*opt.Workers+2),
		pool: sync.Pool{New: func() any {
			b := make([]byte, opt.ChunkSize+overlap)
			return &b
		}},
	}
	var wg sync.WaitGroup
	for range opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker()
		}()
	}
	var stopProgress func()
	if opt.Progress != nil {
		stopProgress = s.progress(opt.Progress, total, files)
	}
	go func() {
		defer close(s.order)
		defer close(s.work)
		produce(ctx, s)
	}()

	var sum Summary
	var kinds tally
	var sinkErr error
	for u := range s.order {
		<-u.done
		if sinkErr == nil {
			sinkErr = s.emit(u, sink, &sum, &kinds)
			if sinkErr != nil {
				cancel()
			}
		}
		if u.pooled {
			b := u.text[:cap(u.text)]
			s.pool.Put(&b)
		}
	}
	wg.Wait()
	if stopProgress != nil {
		stopProgress()
	}
	kinds.addTo(&sum)
	sum.Duration = time.Since(start)
	sum.Seconds = sum.Duration.Seconds()
	if sinkErr != nil {
		return sum, sinkErr
	}
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("scan: %w", err)
	}
	return sum, nil
}

func (s *scanner) emit(u *unit, sink Sink, sum *Summary, kinds *tally) error {
	sum.Files += u.files
	sum.Bytes += u.bytes
	if u.note != nil {
		switch u.note.Kind {
		case NoteSkipped:
			sum.Skipped++
		default:
			sum.Errors++
		}
		if err := sink.Note(*u.note); err != nil {
			return err
		}
	}
	minors := u.minors
	for i, m := range u.matches {
		k := kinds.kind(m.Type)
		f := s.finding(u, m, u.values[i], k.cat, k.sensitive)
		if len(minors) > 0 && minors[0] == i {
			minors = minors[1:]
			f.Category, f.Sensitive = custos.CategoryMinor, true
			k.minors++
		} else {
			k.n++
		}
		if err := sink.Finding(f); err != nil {
			return err
		}
	}
	return nil
}

type scanner struct {
	opt   Options
	work  chan *unit
	order chan *unit
	pool  sync.Pool
	now   time.Time    // for ages
	read  atomic.Int64 // bytes read from disk, for progress
	files atomic.Int64
}

// submit queues u for a worker and for the ordered output. It blocks
// while the output is a full window behind, which bounds memory.
func (s *scanner) submit(ctx context.Context, u *unit) error {
	u.done = make(chan struct{})
	select {
	case s.order <- u:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.work <- u
	return nil
}

// record queues a unit that needs no detection: a note or a count.
func (s *scanner) record(ctx context.Context, u *unit) {
	u.done = make(chan struct{})
	close(u.done)
	select {
	case s.order <- u:
	case <-ctx.Done():
	}
}

func (s *scanner) noteErr(ctx context.Context, path string, err error) {
	s.record(ctx, &unit{note: &Note{Path: path, Kind: NoteError, Message: mask.Text(err.Error())}})
}

func (s *scanner) noteSkip(ctx context.Context, path, why string) {
	s.record(ctx, &unit{note: &Note{Path: path, Kind: NoteSkipped, Message: why}})
}

func (s *scanner) worker() {
	var d pii.Detector
	var ms []pii.Match
	for u := range s.work {
		ms = d.AppendMatches(ms[:0], u.text)
		// Only the match and its masked value are kept until the output
		// takes them: a Finding is ten times larger, and dense text has
		// one match every few dozen bytes.
		u.matches = make([]pii.Match, 0, len(ms))
		u.values = make([]string, 0, len(ms))
		u.minors = u.minors[:0]
		for _, m := range ms {
			if m.Offset < u.own0 || m.Offset >= u.own1 || m.Confidence < s.opt.MinConfidence {
				continue
			}
			raw := string(u.text[m.Offset : m.Offset+m.Length])
			if u.shown != nil {
				raw = string(u.shown[m.Offset : m.Offset+m.Length])
			}
			if m.Type == custos.TypeCNID && MinorByID(raw, s.now) {
				u.minors = append(u.minors, len(u.matches))
			}
			if !s.opt.Reveal {
				raw = mask.Partial(m.Type, raw)
			}
			u.matches = append(u.matches, m)
			u.values = append(u.values, raw)
		}
		close(u.done)
		// Closing done and taking a unit wake the output loop and the
		// reader, which then wait for this core until the scheduler
		// preempts this worker (10 ms) unless it yields: without this the
		// workers, finding the queue drained, waited for the reader.
		runtime.Gosched()
	}
}

func (s *scanner) finding(u *unit, m pii.Match, value string, cat custos.Category, sensitive bool) Finding {
	f := Finding{
		Path: u.path, Location: u.location, Offset: u.base + int64(m.Offset), Length: m.Length,
		Type: m.Type, Category: cat, Sensitive: sensitive, Confidence: m.Confidence, Value: value,
	}
	if u.orig != nil {
		start, end := u.orig[m.Offset], u.orig[m.Offset+m.Length]
		f.Offset, f.Length, f.Encoding = u.base+int64(start), int(end-start), u.encoding
	}
	if u.cells != nil {
		i := sort.Search(len(u.cells), func(i int) bool { return u.cells[i].start > m.Offset }) - 1
		if i >= 0 {
			f.Location = u.cells[i].ref
			f.Offset = int64(m.Offset - u.cells[i].start)
		}
	}
	return f
}

// input is one path given or found by walking.
type input struct {
	path string
	size int64
	err  error
}

// collect expands directories into their regular files in lexical order.
func collect(paths []string) ([]input, int64) {
	var out []input
	var total int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			out = append(out, input{path: p, err: pathErr(err)})
			continue
		}
		if !fi.IsDir() {
			out = append(out, input{path: p, size: fi.Size()})
			total += fi.Size()
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				out = append(out, input{path: path, err: pathErr(err)})
				return nil
			}
			if !d.Type().IsRegular() {
				return nil // directories, symlinks, devices, sockets
			}
			fi, err := d.Info()
			if err != nil {
				out = append(out, input{path: path, err: pathErr(err)})
				return nil
			}
			out = append(out, input{path: path, size: fi.Size()})
			total += fi.Size()
			return nil
		})
		if err != nil {
			out = append(out, input{path: p, err: pathErr(err)})
		}
	}
	return out, total
}

// pathErr drops the path from an fs error: notes carry the path already.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// countingReader counts bytes read from disk for the progress display.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (s *scanner) progress(w io.Writer, total int64, files int) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	start := time.Now()
	show := func() {
		read := s.read.Load()
		el := time.Since(start).Seconds()
		pct := 100.0
		if total > 0 {
			pct = float64(read) / float64(total) * 100
		}
		rate := 0.0
		if el > 0 {
			rate = float64(read) / el / 1e6
		}
		fmt.Fprintf(w, "\rscanning %3.0f%%  %d/%d files  %.1f/%.1f MB  %.1f MB/s ", pct, s.files.Load(), files, float64(read)/1e6, float64(total)/1e6, rate)
	}
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				show()
			case <-stop:
				show()
				fmt.Fprint(w, "\n")
				return
			}
		}
	}()
	return func() { close(stop); <-done }
}
