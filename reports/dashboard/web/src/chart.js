// Horizontal bar charts on canvas (Chart.js, only the parts we use, to keep
// the bundle small). Labels are drawn as canvas text, never parsed as HTML.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js'

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend)
Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue('--font').trim() || 'system-ui, sans-serif'
Chart.defaults.color = '#475569'

export const COLORS = ['#4f46e5', '#0ea5e9', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#64748b']

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 })
const reduced = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches
const short = (s, n = 26) => (s.length > n ? s.slice(0, n - 1) + '…' : s)

// Draws bars into a new canvas inside box. datasets: [{label, data, color}].
// format shows values in ticks and tooltips the way the tables do.
export function bars(box, { labels, datasets, format, horizontal = true, stacked = false }) {
  const canvas = document.createElement('canvas')
  canvas.setAttribute('role', 'img')
  canvas.setAttribute('aria-label', datasets.map((d) => d.label).join(', ') + ' by ' + labels.length + ' keys')
  box.replaceChildren(canvas)
  const valueAxis = { beginAtZero: true, stacked, grid: { color: '#e2e8f0' }, ticks: { callback: (v) => compact.format(v), maxTicksLimit: 6 } }
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
