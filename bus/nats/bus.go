package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/detect"
)

// Kinds of events on the bus (the Custos-Kind header).
const (
	KindAccess = "access"
	KindLogin  = "login"
)

const kindHeader = "Custos-Kind"

// Options configure a Bus. Zero values take the defaults noted.
type Options struct {
	URL    string // default nats://127.0.0.1:4222
	Stream string // JetStream stream name; default CUSTOS
	// Partitions is the number of actor partitions (default 16), and of
	// cross partitions (by login source and identity document). It must be
	// the same on every node for the life of the stream.
	Partitions int
	// Replicas of the stream and the lease bucket (default 1; 3 in a
	// JetStream cluster for durability beyond one server).
	Replicas int
	// Duplicates is the stream's publish dedup window (default 10m).
	Duplicates time.Duration
	// MaxAge bounds how long events stay in the stream (default 7 days):
	// longer than any detector outage and snapshot interval.
	MaxAge time.Duration
	// LeaseTTL is how long a partition lease lasts unrenewed (default 5s).
	LeaseTTL time.Duration
	// PublishTimeout bounds the wait for the stream's acknowledgement of
	// a batch (default 2s).
	PublishTimeout time.Duration
	Name           string // client name shown by the server
	Logger         *slog.Logger
}

// Bus is a connection to the stream. It is safe for concurrent use.
type Bus struct {
	opts   Options
	nc     *natsgo.Conn
	js     jetstream.JetStream
	leases jetstream.KeyValue
	log    *slog.Logger
}

// Connect connects to NATS and creates (or updates) the stream and the
// lease bucket. It fails if the server cannot be reached now; once
// connected, the client reconnects by itself for ever.
func Connect(ctx context.Context, opts Options) (*Bus, error) {
	if opts.URL == "" {
		opts.URL = natsgo.DefaultURL
	}
	if opts.Stream == "" {
		opts.Stream = "CUSTOS"
	}
	if opts.Partitions <= 0 {
		opts.Partitions = 16
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Duplicates <= 0 {
		opts.Duplicates = 10 * time.Minute
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 7 * 24 * time.Hour
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 5 * time.Second
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	log := opts.Logger
	nc, err := natsgo.Connect(opts.URL,
		natsgo.Name(opts.Name),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250*time.Millisecond),
		// No buffering while disconnected: a publish then fails at once
		// and the gateway spools, instead of holding acks in memory.
		natsgo.ReconnectBufSize(-1),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil { // nil: our own Close
				log.Warn("nats: disconnected", "err", err)
			}
		}),
		natsgo.ReconnectHandler(func(c *natsgo.Conn) { log.Info("nats: reconnected", "server", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("nats: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	b := &Bus{opts: opts, nc: nc, js: js, log: log}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        opts.Stream,
		Description: "Custos access and login events, partitioned by actor and by source and document",
		Subjects:    []string{b.subjectPrefix() + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		Duplicates:  opts.Duplicates,
		MaxAge:      opts.MaxAge,
	}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: stream %s: %w", opts.Stream, err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      opts.Stream + "_leases",
		Description: "Custos detector partition leases",
		History:     1,
		TTL:         opts.LeaseTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: lease bucket: %w", err)
	}
	b.leases = kv
	return b, nil
}

// Close drains nothing and closes the connection.
func (b *Bus) Close() { b.nc.Close() }

// Connected reports whether the client is connected to a server now.
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

// Partitions is the number of partitions.
func (b *Bus) Partitions() int { return b.opts.Partitions }

// Stream is the stream's name.
func (b *Bus) Stream() string { return b.opts.Stream }

// DeleteStream deletes the stream and the lease bucket (tests, teardown).
func (b *Bus) DeleteStream(ctx context.Context) error {
	err1 := b.js.DeleteStream(ctx, b.opts.Stream)
	err2 := b.js.DeleteKeyValue(ctx, b.opts.Stream+"_leases")
	return errors.Join(err1, err2)
}

func (b *Bus) subjectPrefix() string { return "custos." + b.opts.Stream + ".events" }

// Subject is the subject of actor partition p.
func (b *Bus) Subject(p int) string { return b.subjectPrefix() + "." + strconv.Itoa(p) }

// CrossSubject is the subject of cross partition q: events routed by
// login source and by registration document, for the rules whose state
// spans actors (detect.PartCross).
func (b *Bus) CrossSubject(q int) string { return b.subjectPrefix() + ".x." + strconv.Itoa(q) }

// Units is the number of units of work detectors share: the actor
// partitions 0..Partitions-1, then the cross partitions.
func (b *Bus) Units() int { return 2 * b.opts.Partitions }

// Unit says what unit u is: actor partition p (cross false) or cross
// partition p (cross true).
func (b *Bus) Unit(u int) (p int, cross bool) {
	if u >= b.opts.Partitions {
		return u - b.opts.Partitions, true
	}
	return u, false
}

// UnitName names unit u: "p<n>" for actor partitions, "x<n>" for cross
// ones (consumer names, snapshot names, lease keys).
func (b *Bus) UnitName(u int) string {
	if p, cross := b.Unit(u); cross {
		return "x" + strconv.Itoa(p)
	}
	return "p" + strconv.Itoa(u)
}

func (b *Bus) unitSubject(u int) string {
	if p, cross := b.Unit(u); cross {
		return b.CrossSubject(p)
	}
	return b.Subject(u)
}

// Partition is the partition of an actor (or login account).
func (b *Bus) Partition(actor string) int {
	return Partition(actor, b.opts.Partitions)
}

// Partition maps an actor to one of n partitions (FNV-1a).
func Partition(actor string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(actor))
	return int(h.Sum32() % uint32(n))
}

// Envelope is one event on its way to the bus (and in the spool).
type Envelope struct {
	Kind  string `json:"kind"`
	ID    string `json:"id"`
	Actor string `json:"actor"`
	// Source and Doc are the cross-partition keys: the login or access
	// source address, and a registration's identity document hash
	// (detect.RegistrationDocument). Keyed says they were set (spool
	// records of older builds lack them and are read for them).
	Source string          `json:"source,omitempty"`
	Doc    string          `json:"doc,omitempty"`
	Keyed  bool            `json:"keyed,omitempty"`
	Data   json.RawMessage `json:"data"`
}

// crossKeys returns the envelope's cross-partition keys ("" when none).
func (e *Envelope) crossKeys() (source, doc string) {
	if e.Keyed {
		return e.Source, e.Doc
	}
	switch e.Kind {
	case KindAccess:
		var ev custos.AccessEvent
		if json.Unmarshal(e.Data, &ev) == nil {
			source = ev.Source.IP
			if d, ok := detect.RegistrationDocument(&ev); ok {
				doc = d.Hash
			}
		}
	case KindLogin:
		var ev custos.LoginEvent
		if json.Unmarshal(e.Data, &ev) == nil {
			source = ev.Source.IP
		}
	}
	return source, doc
}

// CrossPartitions returns the cross partitions an envelope goes to: its
// source's and its registration document's, each once.
func (b *Bus) CrossPartitions(e *Envelope) []int {
	source, doc := e.crossKeys()
	var out []int
	if source != "" {
		out = append(out, b.Partition(source))
	}
	if doc != "" {
		if q := b.Partition(doc); len(out) == 0 || out[0] != q {
			out = append(out, q)
		}
	}
	return out
}

// AccessEnvelopes encodes sealed access events. It refuses unsealed ones.
func AccessEnvelopes(events []custos.AccessEvent) ([]Envelope, error) {
	out := make([]Envelope, len(events))
	for i := range events {
		e := &events[i]
		for j, sub := range e.Subjects {
			if sub.Value != "" || sub.Hash == "" {
				return nil, fmt.Errorf("nats: event %d subjects[%d]: %w", i, j, custos.ErrUnsealed)
			}
		}
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("nats: encode event %s: %w", e.ID, err)
		}
		doc := ""
		if d, ok := detect.RegistrationDocument(e); ok {
			doc = d.Hash
		}
		out[i] = Envelope{Kind: KindAccess, ID: e.ID, Actor: e.Actor.ID, Source: e.Source.IP, Doc: doc, Keyed: true, Data: data}
	}
	return out, nil
}

// LoginEnvelopes encodes login events; their actor is the account.
func LoginEnvelopes(events []custos.LoginEvent) ([]Envelope, error) {
	out := make([]Envelope, len(events))
	for i := range events {
		data, err := json.Marshal(&events[i])
		if err != nil {
			return nil, fmt.Errorf("nats: encode login %s: %w", events[i].ID, err)
		}
		out[i] = Envelope{Kind: KindLogin, ID: events[i].ID, Actor: events[i].Account, Source: events[i].Source.IP, Keyed: true, Data: data}
	}
	return out, nil
}

// Publish publishes envelopes, each to its actor's partition and to its
// cross partitions (source, registration document), and waits until the
// stream has stored every copy (or PublishTimeout passes): an event
// acknowledged to a client is in both families. It returns how many
// events were new and how many the stream recognized as duplicates by id
// (counted on the actor copies). On error some copies may have been
// stored: publishing the same envelopes again is safe, every copy having
// an id of its own (Nats-Msg-Id "<kind>:<id>", and "x<q>:<kind>:<id>"
// for cross partition q).
func (b *Bus) Publish(ctx context.Context, envs []Envelope) (custos.AppendResult, error) {
	if len(envs) == 0 {
		return custos.AppendResult{}, nil
	}
	if !b.nc.IsConnected() {
		return custos.AppendResult{}, errors.New("nats: not connected")
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.PublishTimeout)
	defer cancel()
	type future struct {
		f     jetstream.PubAckFuture
		actor bool // the event's actor copy, which res counts
	}
	futures := make([]future, 0, 2*len(envs))
	send := func(subject, id string, e *Envelope, actor bool) error {
		m := natsgo.NewMsg(subject)
		m.Data = e.Data
		m.Header.Set(kindHeader, e.Kind)
		m.Header.Set(jetstream.MsgIDHeader, id)
		m.Header.Set(jetstream.ExpectedStreamHeader, b.opts.Stream)
		f, err := b.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("nats: publish: %w", err)
		}
		futures = append(futures, future{f, actor})
		return nil
	}
	for i := range envs {
		e := &envs[i]
		if err := send(b.Subject(b.Partition(e.Actor)), e.Kind+":"+e.ID, e, true); err != nil {
			return custos.AppendResult{}, err
		}
		for _, q := range b.CrossPartitions(e) {
			if err := send(b.CrossSubject(q), "x"+strconv.Itoa(q)+":"+e.Kind+":"+e.ID, e, false); err != nil {
				return custos.AppendResult{}, err
			}
		}
	}
	var res custos.AppendResult
	for _, f := range futures {
		select {
		case ack := <-f.f.Ok():
			switch {
			case !f.actor:
			case ack.Duplicate:
				res.Duplicates++
			default:
				res.Stored++
			}
		case err := <-f.f.Err():
			return res, fmt.Errorf("nats: publish: %w", err)
		case <-ctx.Done():
			return res, fmt.Errorf("nats: publish: no acknowledgement: %w", ctx.Err())
		}
	}
	return res, nil
}

// Message is one event read from a partition.
type Message struct {
	Seq    uint64 // stream sequence
	Kind   string
	Access *custos.AccessEvent // set when Kind is KindAccess
	Login  *custos.LoginEvent  // set when Kind is KindLogin
}

// ReadOptions tune Read.
type ReadOptions struct {
	Batch   int           // messages per handler call; default 500
	MaxWait time.Duration // wait for a batch to fill after its first event; default 20ms
	// Lag, if set, is called after each batch with the number of the
	// partition's messages not yet delivered.
	Lag func(pending uint64)
}

// Read delivers unit u's events (see Units) with stream sequence after
// `after`, in order, to handle until ctx is done or handle fails. It
// (re)creates the unit's durable consumer at that position, so whoever
// reads a partition decides where from; it acknowledges a batch once
// handle has returned nil. A message seen twice (redelivery) is handed
// over once.
func (b *Bus) Read(ctx context.Context, u int, after uint64, opts ReadOptions, handle func(ctx context.Context, msgs []Message) error) error {
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 20 * time.Millisecond
	}
	name := b.UnitName(u)
	// A consumer's start cannot be changed: delete the old one (a
	// previous owner's) and start where this reader's state ends.
	if err := b.js.DeleteConsumer(ctx, b.opts.Stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("nats: reset consumer %s: %w", name, err)
	}
	cons, err := b.js.CreateConsumer(ctx, b.opts.Stream, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "Custos detector partition " + name,
		FilterSubject: b.unitSubject(u),
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   after + 1,
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 4 * opts.Batch,
	})
	if err != nil {
		return fmt.Errorf("nats: consumer %s: %w", name, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * opts.Batch))
	if err != nil {
		return fmt.Errorf("nats: consume %s: %w", name, err)
	}
	defer it.Stop()
	last := after
	for {
		// Wait for one message, then take what else arrives within
		// MaxWait, up to Batch.
		first, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("nats: consume %s: %w", name, err)
		}
		raw := []jetstream.Msg{first}
		deadline := time.Now().Add(opts.MaxWait)
		for len(raw) < opts.Batch {
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			m, err := it.Next(jetstream.NextMaxWait(wait))
			if err != nil {
				break
			}
			raw = append(raw, m)
		}
		var msgs []Message
		var pending uint64
		for _, m := range raw {
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("nats: %s: metadata: %w", name, err)
			}
			pending = md.NumPending
			if md.Sequence.Stream <= last {
				continue // redelivered
			}
			last = md.Sequence.Stream
			msg, err := decode(m, md.Sequence.Stream)
			if err != nil {
				// A message no one can decode is skipped, loudly: it
				// cannot be analysed, and blocking the partition would
				// stop every actor in it.
				b.log.Error("nats: undecodable message skipped", "partition", name, "seq", md.Sequence.Stream, "err", err)
				continue
			}
			msgs = append(msgs, msg)
		}
		if len(msgs) > 0 {
			if err := handle(ctx, msgs); err != nil {
				return err
			}
		}
		if err := raw[len(raw)-1].Ack(); err != nil && ctx.Err() == nil {
			b.log.Warn("nats: ack", "partition", name, "err", err)
		}
		if opts.Lag != nil {
			opts.Lag(pending)
		}
	}
}

func decode(m jetstream.Msg, seq uint64) (Message, error) {
	msg := Message{Seq: seq, Kind: m.Headers().Get(kindHeader)}
	switch msg.Kind {
	case KindAccess:
		msg.Access = new(custos.AccessEvent)
		return msg, json.Unmarshal(m.Data(), msg.Access)
	case KindLogin:
		msg.Login = new(custos.LoginEvent)
		return msg, json.Unmarshal(m.Data(), msg.Login)
	}
	return msg, fmt.Errorf("unknown kind %q", msg.Kind)
}

// Pending returns, per unit (see Units), how many of its messages its
// consumer has not yet delivered; a unit nobody reads yet is left out.
// It is the bus lag.
func (b *Bus) Pending(ctx context.Context) (map[int]uint64, error) {
	out := map[int]uint64{}
	for u := range b.Units() {
		name := b.UnitName(u)
		c, err := b.js.Consumer(ctx, b.opts.Stream, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("nats: consumer %s: %w", name, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("nats: consumer %s: %w", name, err)
		}
		out[u] = info.NumPending + uint64(info.NumAckPending)
	}
	return out, nil
}
