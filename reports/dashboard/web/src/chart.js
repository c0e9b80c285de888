// Bar and line charts on canvas (Chart.js, only the parts we use, to keep the
// bundle small). Labels are drawn as canvas text, never parsed as HTML.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js'

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend)
Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue('--font').trim() || 'system-ui, sans-serif'
Chart.defaults.color = '#334155'

export const COLORS = ['#4f46e5', '#0284c7', '#059669', '#d97706', '#dc2626', '#7c3aed', '#475569']

const reduced = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches
const short = (s, n = 26) => (s.length > n ? s.slice(0, n - 1) + '…' : s)

function canvasIn(box, label) {
  const canvas = document.createElement('canvas')
  canvas.setAttribute('role', 'img')
  canvas.setAttribute('aria-label', label)
  box.replaceChildren(canvas)
  return canvas
}

// Draws bars into a new canvas inside box. datasets: [{label, data, color}].
// format shows values in tooltips the way the tables do, tick in the axis.
export function bars(box, { labels, datasets, format, tick = format, horizontal = true, stacked = false }) {
  const canvas = canvasIn(box, datasets.map((d) => d.label).join(', ') + ' by ' + labels.length + ' keys')
  const valueAxis = { beginAtZero: true, stacked, grid: { color: '#e2e8f0' }, ticks: { callback: (v) => tick(v), maxTicksLimit: 6 } }
  const keyAxis = {
    stacked,
    grid: { display: false },
    ticks: { autoSkip: false, callback: function (v) { return short(String(this.getLabelForValue(v)), box.clientWidth < 520 ? 16 : 26) } },
  }
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels,
      datasets: datasets.map((d, i) => ({
        label: d.label,
        data: d.data,
        backgroundColor: d.color || COLORS[i % COLORS.length],
        borderRadius: 3,
        maxBarThickness: horizontal ? 22 : 72,
      })),
    },
    options: {
      indexAxis: horizontal ? 'y' : 'x',
      maintainAspectRatio: false,
      layout: { padding: { left: 4, right: 8 } },
      animation: reduced() ? false : { duration: 250 },
      plugins: {
        legend: { display: datasets.length > 1, position: 'bottom', labels: { boxWidth: 12 } },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${format(c.raw)}` } },
      },
      scales: horizontal ? { x: valueAxis, y: keyAxis } : { x: keyAxis, y: valueAxis },
    },
  })
}

// Draws a series and the previous period's beside it (dashed). titles[i] names the
// days of point i in each period for the tooltip.
export function lines(box, { labels, current, previous, format, tick = format, titles }) {
  const canvas = canvasIn(box, `${current.label} over time, with ${previous.label.toLowerCase()}`)
  const set = (d, color, dash) => ({
    label: d.label,
    data: d.data,
    borderColor: color,
    backgroundColor: color,
    borderWidth: 2,
    borderDash: dash,
    pointRadius: labels.length > 45 ? 0 : 2.5,
    pointHoverRadius: 4,
    tension: 0.25,
  })
  return new Chart(canvas, {
    type: 'line',
    data: { labels, datasets: [set(current, COLORS[0], []), set(previous, '#64748b', [5, 4])] },
    options: {
      maintainAspectRatio: false,
      animation: reduced() ? false : { duration: 250 },
      interaction: { mode: 'index', intersect: false },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: {
            title: (items) => (items.length ? titles[items[0].dataIndex][0] : ''),
            label: (c) => `${c.dataset.label} (${titles[c.dataIndex][c.datasetIndex]}): ${format(c.raw)}`,
          },
        },
      },
      scales: {
        x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
        y: { beginAtZero: true, grid: { color: '#e2e8f0' }, ticks: { callback: (v) => tick(v), maxTicksLimit: 6 } },
      },
    },
  })
}
