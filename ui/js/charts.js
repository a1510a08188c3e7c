// Charts for the task force's screens, drawn by Chart.js (ui/vendor/chart.js, MIT, shipped inside
// the app: no network). The library is loaded on first use only, so no other screen pays for it.
// Every chart stands beside a table holding the same numbers; the chart is a picture of it.

let loading = null;

/** Chart.js, loaded once. */
export function loadChartLibrary() {
  if (!loading) {
    loading = import("../vendor/chart.js/chart.umd.min.js").then(() => {
      const Chart = globalThis.Chart;
      if (!Chart) throw new Error("Chart.js did not load.");
      // Calm and still: no animation (a chart appears whole, and prints as it is on screen).
      Chart.defaults.animation = false;
      Chart.defaults.font.size = 14;
      Chart.defaults.font.family = "\"Segoe UI\", \"Noto Sans\", \"DejaVu Sans\", sans-serif";
      Chart.defaults.color = "#1b2430";
      return Chart;
    });
  }
  return loading;
}

const BAR = "#0b5394";
const BAR_HOVER = "#083d6d";

/**
 * A bar chart in `canvas` over `labels` and `counts`; `horizontal` for categories, vertical for
 * months. `onPick(index)` is called when a bar is chosen. Returns the Chart (destroy it to free it).
 */
export function barChart(Chart, canvas, { labels, counts, horizontal, label, onPick }) {
  return new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: [{ label, data: counts, backgroundColor: BAR, hoverBackgroundColor: BAR_HOVER, maxBarThickness: 28 }],
    },
    options: {
      indexAxis: horizontal ? "y" : "x",
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: {
        [horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { precision: 0 } },
      },
      onClick: (event, elements) => {
        if (elements.length && onPick) onPick(elements[0].index);
      },
    },
  });
}
