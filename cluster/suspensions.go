package cluster

import (
	"errors"
	"net/http"

	"github.com/custos-dev/custos"
	"github.com/custos-dev/custos/api"
)

// suspensionRoutes serve the cluster's suspensions (the embedded server
// has its console for this): GET /api/v1/suspensions lists the suspended
// actors; DELETE /api/v1/suspensions/{actor} lifts one, as an audit event
// naming the token's holder. Gateway nodes drop it within
// suspensionRefresh.
func (n *Node) suspensionRoutes(a *api.Server) {
	a.Handle("GET /api/v1/suspensions", custos.ScopeRead, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actors, err := n.Store.SuspendedActors(r.Context())
		if err != nil {
			n.log.Error("list suspensions", "err", err)
			api.WriteError(w, http.StatusInternalServerError, "suspensions unavailable")
			return
		}
		if actors == nil {
			actors = []string{}
		}
		api.WriteJSON(w, http.StatusOK, map[string][]string{"suspended": actors})
	}))
	a.Handle("DELETE /api/v1/suspensions/{actor}", custos.ScopeAdmin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor := r.PathValue("actor")
		err := n.Store.LiftSuspension(r.Context(), actor)
		switch {
		case errors.Is(err, custos.ErrNotFound):
			api.WriteError(w, http.StatusNotFound, "actor is not suspended")
			return
		case err != nil:
			n.log.Error("lift suspension", "err", err)
			api.WriteError(w, http.StatusInternalServerError, "suspension not lifted")
			return
		}
		by := "unknown"
		if tok, ok := api.TokenFrom(r.Context()); ok {
			by = tok.Name
		}
		n.audit(r.Context(), by, "actor.unsuspended", actor, nil)
		api.WriteJSON(w, http.StatusOK, map[string]string{"lifted": actor})
	}))
}
