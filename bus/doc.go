// Package bus holds the event-bus backends that deliver stored events to
// consumers (detection, the ledger): bus/local inside one process, backed
// by the event store; bus/nats over NATS JetStream when Custos runs as a
// cluster.
package bus
