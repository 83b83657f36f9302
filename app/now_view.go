package app

import (
	"fmt"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

const (
	telemetryWindow = 2 * time.Minute
	telemetryGap    = time.Second // at most one sample a second
	// telemetryTick is how often the graphs move on when no status arrives
	// (an unchanged card publishes no GPU event).
	telemetryTick = 2 * time.Second
)

var (
	colorSparkVRAM  = color.NRGBA{R: 0x6a, G: 0x3d, B: 0xb8, A: 0xff}
	colorSparkTemp  = color.NRGBA{R: 0xd0, G: 0x5a, B: 0x2a, A: 0xff}
	colorSparkPower = color.NRGBA{R: 0xc8, G: 0x96, B: 0x00, A: 0xff}
	colorSparkUtil  = color.NRGBA{R: 0x1e, G: 0x8e, B: 0x4e, A: 0xff}
)

// sparkCell is one telemetry graph: a caption, the current value, the line.
type sparkCell struct {
	obj   fyne.CanvasObject
	value *widget.Label
	line  *sparkline
	hist  *series
}

func newSparkCell(tips *tipLayer, title string, c color.Color) *sparkCell {
	s := &sparkCell{value: widget.NewLabelWithStyle("—", fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}),
		line: newSparkline(c), hist: newSeries(int(telemetryWindow/telemetryGap)+8, telemetryGap)}
	// The value keeps its room; the caption is cut first when the cell is narrow.
	s.obj = container.NewBorder(container.NewBorder(nil, nil, nil, s.value, tips.tipRich(caption(title))), nil, nil, nil, s.line)
	return s
}

// nowStrip is the Dashboard's "now" strip: the job in progress, today's
// earnings and live GPU telemetry over the last two minutes.
type nowStrip struct {
	obj    fyne.CanvasObject
	job    *valueLine
	today  *valueLine
	graphs *fyne.Container
	noGPU  *widget.Label

	vram, temp, power, util *sparkCell

	hasGPU bool
	dev    gpu.Device // the last device reading, held between statuses
}

func newNowStrip(tips *tipLayer) *nowStrip {
	n := &nowStrip{
		job:   newValueLine(tips),
		today: newValueLine(tips),
		vram:  newSparkCell(tips, "VRAM", colorSparkVRAM),
		temp:  newSparkCell(tips, "Temp", colorSparkTemp),
		power: newSparkCell(tips, "Power", colorSparkPower),
		util:  newSparkCell(tips, "Load", colorSparkUtil),
		noGPU: widget.NewLabel("no GPU"),
	}
	n.noGPU.Importance = widget.LowImportance
	n.noGPU.Alignment = fyne.TextAlignCenter
	cell := func(title string, value *valueLine) fyne.CanvasObject {
		return container.NewBorder(caption(title), nil, nil, nil, value.obj)
	}
	n.graphs = container.NewGridWithColumns(4, n.vram.obj, n.temp.obj, n.power.obj, n.util.obj)
	n.graphs.Hide()
	left := container.NewGridWithColumns(2, cell("Job now", n.job), cell("Today", n.today))
	// No title row: the strip is short so the Models list keeps its room.
	n.obj = container.NewStack(newPanelBG(), container.New(layout.NewCustomPaddedLayout(0, 6, 8, 8),
		container.New(columns{weights: []float32{2, 3}}, left, container.NewStack(n.graphs, container.NewCenter(n.noGPU)))))
	return n
}

// jobText is the job line: the model and speed while a job runs, else idle.
func jobText(j worker.JobStats, state worker.State) (head, sub string) {
	if j.Running > 0 {
		head = j.LastModel
		if head == "" {
			head = "A job"
		}
		if j.LastTokensPS > 0 {
			head += fmt.Sprintf(" · %.1f tokens/s", j.LastTokensPS)
		}
		sub = "running"
		if j.Running > 1 {
			sub = fmt.Sprintf("%d jobs running", j.Running)
		}
		return head, sub
	}
	head = "idle"
	switch {
	case state == worker.StateServing:
		sub = "ready, waiting for a job"
	case state.Started():
		sub = "not serving now"
	default:
		sub = "not sharing"
	}
	if j.Completed > 0 {
		sub += " · " + plural(j.Completed, "job") + " this session"
	}
	return head, sub
}

// todayText is today's gross earnings and, with a tariff, the net of electricity.
func todayText(day earnings.DayTotal, tariffSet bool) (head, sub string) {
	head = tonText(day.Gross) + " TON"
	line := netLine(day, tariffSet) // the net only where energy was measured
	if day.EnergyMilliJ > 0 && tariffSet {
		return head, line
	}
	if line == "" {
		return head, plural(int(day.Jobs), "job")
	}
	return head, plural(int(day.Jobs), "job") + " · " + line
}

// setToday shows today's totals (from the Earnings tab's ledger read).
func (n *nowStrip) setToday(day earnings.DayTotal, tariffSet bool) {
	head, sub := todayText(day, tariffSet)
	n.today.set(head, sub, "")
}

// render shows st at now: the job line, and a telemetry sample per graph.
func (n *nowStrip) render(st worker.Status, now time.Time) {
	head, sub := jobText(st.Jobs, st.State)
	var c fyne.ThemeColorName
	if st.Jobs.Running > 0 {
		c = theme.ColorNameSuccess
	}
	n.job.set(head, sub, c)

	snap := st.GPU
	n.hasGPU = snap.State == gpu.StateOK && len(snap.Devices) > 0
	if n.hasGPU {
		n.dev = snap.Devices[0]
	}
	n.sample(now)
}

// tick moves the graphs on without a new status (the last reading holds).
func (n *nowStrip) tick(now time.Time) { n.sample(now) }

func (n *nowStrip) sample(now time.Time) {
	setVisible(n.graphs, n.hasGPU)
	setVisible(n.noGPU, !n.hasGPU)
	if !n.hasGPU {
		return
	}
	d := n.dev
	vram := vramFraction(d) * 100
	n.vram.hist.add(now, vram)
	n.temp.hist.add(now, float64(d.TemperatureC))
	n.power.hist.add(now, d.PowerW)
	n.util.hist.add(now, float64(d.UtilizationGPU))

	n.vram.draw(now, 0, 100, fmt.Sprintf("%.0f%%", vram))
	tempTop := scaleTop(n.temp.hist.r.items(), 90, 10)
	n.temp.draw(now, 20, tempTop, fmt.Sprintf("%d °C", d.TemperatureC))
	powerTop := d.PowerLimitW
	if powerTop <= 0 {
		powerTop = scaleTop(n.power.hist.r.items(), 100, 50)
	}
	n.power.draw(now, 0, powerTop, fmt.Sprintf("%.0f W", d.PowerW))
	n.util.draw(now, 0, 100, fmt.Sprintf("%d%%", d.UtilizationGPU))
}

func (s *sparkCell) draw(now time.Time, lo, hi float64, value string) {
	setLabel(s.value, value, widget.MediumImportance)
	s.line.set(sparkPoints(s.hist.r.items(), now, telemetryWindow, lo, hi))
}

// valueLine is a bold value and, after it, dim details, on one line (cut,
// with a tooltip).
type valueLine struct {
	*twoPart
}

func newValueLine(tips *tipLayer) *valueLine {
	return &valueLine{newTwoPart(tips,
		&widget.TextSegment{Text: "—", Style: widget.RichTextStyle{TextStyle: fyne.TextStyle{Bold: true}}},
		&widget.TextSegment{Style: widget.RichTextStyle{ColorName: theme.ColorNamePlaceHolder}})}
}

// set shows head (in colour c, "" for the foreground) then sub; it
// refreshes only on change.
func (l *valueLine) set(head, sub string, c fyne.ThemeColorName) {
	sub = "   " + sub
	if l.head.Text == head && l.sub.Text == sub && l.head.Style.ColorName == c {
		return
	}
	l.head.Text, l.sub.Text, l.head.Style.ColorName = head, sub, c
	l.Refresh()
}
