package console

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/custos-dev/custos/trace"
)

type traceData struct {
	Enabled bool
	Report  *trace.Report
	Problem string // message key
}

func (c *Console) tracePage(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.D = "title.trace", traceData{Enabled: c.opt.Trace != nil}
	c.render(w, http.StatusOK, "trace", v)
}

// traceUpload ranks the likely sources of an uploaded leaked file. The
// file is read in memory and never stored; the report holds export,
// actor and event IDs only.
func (c *Console) traceUpload(w http.ResponseWriter, r *http.Request, v *view) {
	d := traceData{Enabled: c.opt.Trace != nil}
	v.Title = "title.trace"
	if !d.Enabled {
		c.fail(w, r, v, http.StatusNotFound, "err.not_found")
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		d.Problem = "err.trace_file"
		if errors.As(err, &mbe) {
			d.Problem = "err.trace_size"
		}
		v.D = d
		c.render(w, http.StatusBadRequest, "trace", v)
		return
	}
	defer f.Close()
	// Only the extension of the name is used (to pick the format): a
	// file name may itself carry personal data.
	rep, err := c.opt.Trace.Trace(r.Context(), f, "upload"+filepath.Ext(hdr.Filename))
	if err != nil {
		c.log.Warn("console: trace", "err", err)
		d.Problem = "err.trace_file"
		v.D = d
		c.render(w, http.StatusBadRequest, "trace", v)
		return
	}
	rep.File = ""
	c.audit(r, v, "trace", fmt.Sprintf("%d bytes, %d records", hdr.Size, rep.Records),
		fmt.Sprintf("exports %s, actors %s", rep.ExportVerdict, rep.ActorVerdict), true)
	d.Report = rep
	v.D = d
	c.render(w, http.StatusOK, "trace", v)
}
