package console

import (
	"fmt"
	"html"
	"html/template"
	"sort"
	"strings"
	"time"

	"github.com/custos-dev/custos/store/sqlite"
)

// chartSVG is an inline SVG chart, built here from numbers and translated
// labels only (every label is escaped), so it is safe to emit as HTML.
type chartSVG = template.HTML

// palette is used in order for the chart's series.
var palette = []string{"#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"}

const (
	chartW, chartH      = 720, 220
	padL, padR          = 48, 12
	padT, padB          = 12, 28
	maxSeries           = 7
	plotW, plotH        = chartW - padL - padR, chartH - padT - padB
	chartAttrs          = `xmlns="http://www.w3.org/2000/svg" class="chart" role="img"`
	chartViewBoxPattern = `viewBox="0 0 %d %d"`
)

// volumeChart draws events per hour for each category (the largest
// categories, the rest summed as "other") over n hours from start.
func volumeChart(lang string, rows []sqlite.VolumeRow, start time.Time, n int) chartSVG {
	series := map[string][]float64{}
	totals := map[string]float64{}
	for _, r := range rows {
		if r.Category == "*" {
			continue
		}
		i := int(r.Hour.Sub(start) / time.Hour)
		if i < 0 || i >= n {
			continue
		}
		if series[r.Category] == nil {
			series[r.Category] = make([]float64, n)
		}
		series[r.Category][i] += float64(r.Events)
		totals[r.Category] += float64(r.Events)
	}
	cats := make([]string, 0, len(series))
	for c := range series {
		cats = append(cats, c)
	}
	sort.Slice(cats, func(i, j int) bool {
		if totals[cats[i]] != totals[cats[j]] {
			return totals[cats[i]] > totals[cats[j]]
		}
		return cats[i] < cats[j]
	})
	if len(cats) > maxSeries {
		other := make([]float64, n)
		for _, c := range cats[maxSeries-1:] {
			for i, x := range series[c] {
				other[i] += x
			}
		}
		cats = append(cats[:maxSeries-1], "other")
		series["other"] = other
	}
	var names []string
	var data [][]float64
	for _, c := range cats {
		names = append(names, msg(lang, "cat."+c))
		data = append(data, series[c])
	}
	labels := make([]string, n)
	for i := range labels {
		if h := start.Add(time.Duration(i) * time.Hour); h.Hour()%6 == 0 {
			labels[i] = h.Format("01-02 15h")
		}
	}
	return lineChart(msg(lang, "chart.volume"), names, data, labels, msg(lang, "chart.empty"))
}

// actorChart draws an actor's records per day over n days from start as
// bars, with the actor's own baseline (mean records per active day) as a
// line, and returns the baseline.
func actorChart(lang string, days []sqlite.ActorDay, start time.Time, n int) (chartSVG, float64) {
	vals := make([]float64, n)
	var sum float64
	var active int
	for _, d := range days {
		i := int(d.Day.Sub(start) / (24 * time.Hour))
		if i < 0 || i >= n {
			continue
		}
		vals[i] = float64(d.Records)
		sum += float64(d.Records)
		active++
	}
	var baseline float64
	if active > 0 {
		baseline = sum / float64(active)
	}
	if active == 0 {
		return emptyChart(msg(lang, "chart.actor"), msg(lang, "chart.empty")), 0
	}
	max := baseline
	for _, x := range vals {
		max = maxf(max, x)
	}
	var b strings.Builder
	openChart(&b, msg(lang, "chart.actor"))
	axes(&b, max)
	bw := float64(plotW) / float64(n)
	for i, x := range vals {
		h := x / max * plotH
		color := palette[0]
		if baseline > 0 && x > 3*baseline {
			color = palette[1]
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %.0f</title></rect>`,
			padL+float64(i)*bw+1, padT+plotH-h, bw-2, h, color,
			html.EscapeString(start.AddDate(0, 0, i).Format("2006-01-02")), x)
		if i%7 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick">%s</text>`, padL+float64(i)*bw, chartH-8, start.AddDate(0, 0, i).Format("01-02"))
		}
	}
	y := padT + plotH - baseline/max*plotH
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#111827" stroke-dasharray="6 4" stroke-width="1.5"/>`, padL, y, chartW-padR, y)
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="legend">%s</text>`, chartW-padR-160, y-4, html.EscapeString(msg(lang, "chart.baseline")))
	b.WriteString(`</svg>`)
	return chartSVG(b.String()), baseline
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

func openChart(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg `+chartAttrs+` `+chartViewBoxPattern+` aria-label="%s">`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(b, `<title>%s</title>`, html.EscapeString(title))
}

func axes(b *strings.Builder, max float64) {
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#9ca3af"/>`, padL, padT+plotH, chartW-padR, padT+plotH)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#9ca3af"/>`, padL, padT, padL, padT+plotH)
	fmt.Fprintf(b, `<text x="4" y="%d" class="tick">%s</text>`, padT+8, compact(max))
	fmt.Fprintf(b, `<text x="4" y="%d" class="tick">0</text>`, padT+plotH)
}

func emptyChart(title, empty string) chartSVG {
	var b strings.Builder
	openChart(&b, title)
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="legend">%s</text></svg>`, chartW/2-60, chartH/2, html.EscapeString(empty))
	return chartSVG(b.String())
}

// lineChart draws one polyline per series with a legend.
func lineChart(title string, names []string, data [][]float64, labels []string, empty string) chartSVG {
	if len(data) == 0 {
		return emptyChart(title, empty)
	}
	var max float64 = 1
	for _, s := range data {
		for _, x := range s {
			max = maxf(max, x)
		}
	}
	n := len(labels)
	step := float64(plotW) / float64(max1(n-1))
	var b strings.Builder
	openChart(&b, title)
	axes(&b, max)
	for i, l := range labels {
		if l != "" {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick">%s</text>`, padL+float64(i)*step-10, chartH-8, html.EscapeString(l))
		}
	}
	for si, s := range data {
		color := palette[si%len(palette)]
		var pts []string
		for i, x := range s {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", padL+float64(i)*step, padT+plotH-x/max*plotH))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`, color, strings.Join(pts, " "), html.EscapeString(names[si]))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" class="legend">%s</text>`,
			padL+8+(si%4)*150, padT+2+(si/4)*14, color, padL+22+(si%4)*150, padT+11+(si/4)*14, html.EscapeString(names[si]))
	}
	b.WriteString(`</svg>`)
	return chartSVG(b.String())
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func compact(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.1fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}
