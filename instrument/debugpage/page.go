package redressdebug

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ServeHTTP implements http.Handler: the HTML page, or with ?format=json
// the View as JSON. Only GET and HEAD are served; Config.Authorize, when
// set, is asked first (403 when it says no). ?refresh=N (1 to 3600) makes
// the HTML page reload itself every N seconds (a meta refresh: the page
// has no script).
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.authorize != nil && !p.authorize(r) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	v := p.Snapshot()
	q := r.URL.Query()
	if q.Get("format") == "json" {
		h.Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return
	}
	refresh := 0
	if n, err := strconv.Atoi(q.Get("refresh")); err == nil && n >= 1 && n <= 3600 {
		refresh = n
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, pageData{View: v, Refresh: refresh}); err != nil {
		http.Error(w, "redressdebug: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	// No script, no external asset: the page needs nothing but inline styles.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	_, _ = w.Write(buf.Bytes())
}

type pageData struct {
	View
	Refresh int
}

var stateColor = map[string]string{"closed": "#2e9e44", "half_open": "#e0a800", "open": "#d7263d"}

// sparkline returns an inline SVG polyline of vs (numbers only: nothing
// from the request or the events reaches it but counts).
func sparkline(vs []uint32, color string) template.HTML {
	const w, h = 120, 24
	var peak uint32
	for _, v := range vs {
		peak = max(peak, v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="peak %d per second"><polyline fill="none" stroke="%s" stroke-width="1.5" points="`, w, h, w, h, peak, color)
	for i, v := range vs {
		x := float64(i) * float64(w) / float64(max(len(vs)-1, 1))
		y := float64(h - 1)
		if peak > 0 {
			y = float64(h-1) - float64(v)*float64(h-3)/float64(peak)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", x, y)
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String())
}

// strip returns an inline SVG strip of breaker states, one cell a second.
func strip(states []string) template.HTML {
	const cw, h = 2, 12
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="strip" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="breaker state, last minute">`, cw*len(states), h, cw*len(states), h)
	for i, s := range states {
		c, ok := stateColor[s]
		if !ok {
			c = "#888"
		}
		fmt.Fprintf(&b, `<rect x="%d" y="0" width="%d" height="%d" fill="%s"/>`, i*cw, cw, h, c)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"calls":   func(vs []uint32) template.HTML { return sparkline(vs, "#3366cc") },
	"fails":   func(vs []uint32) template.HTML { return sparkline(vs, "#d7263d") },
	"strip":   strip,
	"pct":     func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	"num":     func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
	"clock":   func(t time.Time) string { return t.Format("15:04:05.000") },
	"ago":     func(now, t time.Time) string { return now.Sub(t).Truncate(100 * time.Millisecond).String() },
	"color":   func(s string) string { return stateColor[s] },
	"deref":   func(t *time.Time) time.Time { return *t },
	"stateof": func(s string) string { return strings.ReplaceAll(s, "_", "-") },
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
{{- if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>redress: live view</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.3em;margin:0 0 .2em} h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #e4e4e4;vertical-align:top}
th{background:#f4f4f4;font-weight:600} .num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 .5em;border-radius:.6em;color:#fff;font-weight:600}
.muted{color:#777} .fails td{background:#fbf4f4;font-size:.9em} code{font-size:.92em}
.warn{color:#a33} ul{margin:0;padding-left:1.1em} .nw{white-space:nowrap} .stops{font-size:.9em;white-space:nowrap}
</style></head><body>
<h1>redress: live view</h1>
<div class="muted">at {{clock .Time}} · last {{.WindowSeconds}} s ·
<a href="?format=json">JSON</a> · <a href="?refresh=5">auto-refresh 5 s</a> · <a href="?">stop refresh</a></div>

<h2>Circuit breakers</h2>
{{- if .Breakers}}
<table id="breakers"><tr><th>policy</th><th>breaker</th><th>state</th><th>since</th><th class="num">rejections</th><th>last minute</th><th>recent transitions</th></tr>
{{- range .Breakers}}
<tr class="breaker" data-policy="{{.Policy}}" data-breaker="{{.Name}}" data-state="{{.State}}">
<td class="nw">{{.Policy}}</td><td><code>{{.Name}}</code></td>
<td><span class="badge state-{{stateof .State}}" style="background:{{color .State}}">{{.State}}</span></td>
<td>{{if .Since}}{{clock (deref .Since)}} <span class="muted">({{ago $.Time (deref .Since)}} ago)</span>{{else}}<span class="muted">no change seen</span>{{end}}</td>
<td class="num">{{.Rejections}}</td><td>{{strip .StatesPerSecond}}</td>
<td>{{if .Transitions}}<ul>{{range .Transitions}}<li>{{clock .Time}} {{.From}} → {{.To}}</li>{{end}}</ul>{{else}}<span class="muted">none</span>{{end}}</td></tr>
{{- end}}</table>
{{- else}}<p class="muted">No breaker seen yet.</p>{{end}}

<h2>Retry budgets</h2>
{{- if .Budgets}}
<table id="budgets"><tr><th>policy</th><th class="num">in use</th><th class="num">retries left</th><th class="num">denied (ever)</th></tr>
{{- range .Budgets}}
<tr class="budget" data-policy="{{.Policy}}"><td class="nw">{{.Policy}}</td><td class="num">{{pct .Utilization}}</td><td class="num">{{num .Remaining}}</td><td class="num">{{.Denied}}</td></tr>
{{- end}}</table>
{{- else}}<p class="muted">No budget seen yet.</p>{{end}}

<h2>Operations</h2>
{{- if .Operations}}
<table id="operations"><tr><th>policy</th><th>operation</th><th class="num">calls/s</th><th class="num">success</th><th class="num">attempts/call</th><th>stop reasons</th><th>calls/s, last minute</th><th>failures/s</th><th>breaker</th></tr>
{{- range .Operations}}
<tr class="operation" data-policy="{{.Policy}}" data-operation="{{.Operation}}">
<td class="nw">{{.Policy}}</td><td><code>{{.Operation}}</code></td>
<td class="num">{{num .Rate}}</td><td class="num">{{pct .SuccessRatio}}</td><td class="num">{{num .AttemptsPerCall}}</td>
<td class="stops">{{range $k, $v := .StopReasons}}{{$k}} {{$v}}<br>{{else}}<span class="muted">none</span>{{end}}</td>
<td class="nw">{{calls .CallsPerSecond}}</td><td class="nw">{{fails .FailuresPerSecond}}</td>
<td>{{if .Breaker}}<code>{{.Breaker}}</code>{{end}}</td></tr>
{{- if .RecentFailures}}
<tr class="fails"><td></td><td colspan="8"><b>last failures</b><ul>
{{- range .RecentFailures}}<li>{{clock .Time}} {{.Event}}{{if .Class}} · class {{.Class}}{{end}} · stop {{.StopReason}} · {{.Attempts}} attempt(s){{if .Error}} · <code>{{.Error}}</code>{{end}}</li>{{end}}
</ul></td></tr>
{{- end}}
{{- end}}</table>
{{- else}}<p class="muted">No call seen yet.</p>{{end}}

<p class="muted">Bounds: {{.Limits.MaxOperations}} operations, breakers and budgets; {{.Limits.MaxFailures}} failures per operation.
{{- if .Limits.OtherCalls}} <span class="warn">{{.Limits.OtherCalls}} calls of further operations counted under (other).</span>{{end}}
{{- if .Limits.UntrackedBreakers}} <span class="warn">{{.Limits.UntrackedBreakers}} breakers not tracked.</span>{{end}}
{{- if .Limits.UntrackedBudgets}} <span class="warn">{{.Limits.UntrackedBudgets}} budgets not tracked.</span>{{end}}
Attempts per call and stop reasons cover the last 45 to 60 s.</p>
</body></html>
`
