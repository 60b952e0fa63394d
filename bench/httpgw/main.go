// Command httpgw-bench runs the pieces of the HTTP gateway benchmark
// (bench/httpgw/run.sh): a back-office upstream serving 10 KB JSON pages of
// passengers with personal data, and the Custos HTTP gateway in front of it
// with inspection, masking and a durable access event per request (a real
// SQLite event store in a temporary data directory).
//
//	httpgw-bench upstream -addr 127.0.0.1:9101
//	httpgw-bench gateway -addr 127.0.0.1:9102 -upstream http://127.0.0.1:9101 -data DIR
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/blind"
	"github.com/custos-dev/custos/catalog"
	"github.com/custos-dev/custos/config"
	"github.com/custos-dev/custos/httpgw"
	"github.com/custos-dev/custos/ingest"
	"github.com/custos-dev/custos/mask"
	"github.com/custos-dev/custos/policy"
	"github.com/custos-dev/custos/store/sqlite"
)

const benchPolicy = `version: 1
name: bench
rules:
  - id: analysts-masked
    match: {roles: [analyst]}
    decision: mask
`

const benchCatalog = `version: 1
resources:
  - system: pss
    route: GET /passengers
    fields:
      $.items[*].idNo: {type: cn_id, subject_key: true}
      $.items[*].name: {type: cn_name}
      $.items[*].mobile: {type: cn_mobile}
      $.items[*].email: {type: email}
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: httpgw-bench upstream|gateway [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "upstream":
		err = runUpstream(os.Args[2:])
	case "gateway":
		err = runGateway(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpgw-bench:", err)
		os.Exit(1)
	}
}

func cnID(serial int) string {
	base := fmt.Sprintf("11010519900307%03d", serial%1000)
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(base[i]-'0') * w
	}
	return base + string("10X98765432"[sum%11])
}

// page is about 10 KB of JSON: 22 passengers with ID number, name, mobile,
// e-mail and a free-text note holding another phone number.
func page() []byte {
	type passenger struct {
		IDNo   string `json:"idNo"`
		Name   string `json:"name"`
		Mobile string `json:"mobile"`
		Email  string `json:"email"`
		Seat   string `json:"seat"`
		Flight string `json:"flight"`
		Status string `json:"status"`
		Note   string `json:"note"`
		Fare   int    `json:"fare"`
	}
	var items []passenger
	for i := range 22 {
		items = append(items, passenger{
			IDNo: cnID(i), Name: "张伟明", Mobile: fmt.Sprintf("1381234%04d", i), Email: fmt.Sprintf("passenger%d@example.com", i),
			Seat: "12A", Flight: "CA1234", Status: "checked-in",
			Note: fmt.Sprintf("VIP; call 1391234%04d before boarding; meal: vegetarian; bags: 2; loyalty gold member since 2015", i),
			Fare: 1280 + i,
		})
	}
	b, _ := json.Marshal(map[string]any{"total": len(items), "page": 1, "items": items})
	return b
}

func runUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9101", "listen address")
	fs.Parse(args)
	body := page()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /passengers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	fmt.Fprintf(os.Stderr, "upstream: %d-byte page on %s\n", len(body), *addr)
	return serve(*addr, mux)
}

func runGateway(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9102", "listen address")
	upstream := fs.String("upstream", "http://127.0.0.1:9101", "upstream URL")
	data := fs.String("data", "", "data directory for the event store (required)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile here")
	public := fs.Bool("public", false, "serve the route as public: plain Go reverse proxy, no identity, inspection or events (measurement only)")
	storeKind := fs.String("store", "sqlite", "event store: sqlite (durable, the product) or discard (measurement only: the gateway's own cost without the store)")
	fs.Parse(args)
	if *data == "" {
		return fmt.Errorf("-data is required")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	key := make([]byte, blind.KeySize)
	rand.Read(key)
	idx, err := blind.New(key)
	if err != nil {
		return err
	}
	tok, err := mask.NewTokenizer(key)
	if err != nil {
		return err
	}
	p, err := policy.Parse("bench", []byte(benchPolicy), policy.Options{})
	if err != nil {
		return err
	}
	cat, err := catalog.Parse("bench", []byte(benchCatalog))
	if err != nil {
		return err
	}
	cfg := config.DefaultHTTPGateway()
	cfg.Enabled = true
	cfg.Listen = *addr
	cfg.Routes = []config.HTTPRoute{{Prefix: "/", Upstream: *upstream, System: "pss", Public: *public}}
	cfg.Identity.Header.TrustedProxies = []string{"127.0.0.0/8"}
	var app ingest.Appender = st
	if *storeKind == "discard" {
		app = discard{}
	}
	gw, err := httpgw.New(cfg, httpgw.Deps{
		Pipeline: &ingest.Pipeline{Store: app, Index: idx},
		Index:    idx,
		Policy:   &policy.Engine{Policies: policy.NewHolderWith(p, policy.Options{}, nil), Catalog: cat, Quotas: policy.NewQuotas()},
		Catalog:  cat,
		Masker:   &mask.Masker{Tokens: tok},
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(os.Stderr, "gateway: %s -> %s, events in %s\n", *addr, *upstream, *data)
	return serve(*addr, gw)
}

// discard is an event store that keeps nothing: it isolates the gateway's
// own cost (inspection, masking, policy, validation and sealing) from the
// store's in the benchmark. Never a product configuration.
type discard struct{}

func (discard) AppendAccess(_ context.Context, evs []custos.AccessEvent) (custos.AppendResult, error) {
	return custos.AppendResult{Stored: len(evs)}, nil
}

func (discard) AppendLogins(_ context.Context, evs []custos.LoginEvent) (custos.AppendResult, error) {
	return custos.AppendResult{Stored: len(evs)}, nil
}

// serve runs until SIGINT or SIGTERM.
func serve(addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}
