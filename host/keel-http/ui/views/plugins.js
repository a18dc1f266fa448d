// The plugins this agent runs, their counters, and their call latency.
"use strict";

Keel.view({
  id: "plugins",
  title: "Plugins",
  order: 30,
  paths: ["/v1/agent/self", "/v1/metrics"],
  render(data) {
    const stats = data["/v1/agent/self"].stats.keel;
    const kinds = Object.keys(stats).filter((key) => /^plugin\.[a-z-]+$/.test(key)).map((key) => key.slice(7)).sort();
    const samples = data["/v1/metrics"].Samples.filter((sample) => sample.Name === "keel.plugin.call");
    const latency = kinds.map((kind) => {
      const calls = samples.filter((sample) => sample.Labels.kind === kind);
      const count = calls.reduce((sum, sample) => sum + sample.Count, 0);
      const total = calls.reduce((sum, sample) => sum + sample.Sum, 0);
      const series = Keel.intervalMean(`plugin.${kind}.ms`, count, total);
      return {
        kind,
        mean: count ? total / count : NaN,
        max: Math.max(...calls.map((sample) => sample.Max)),
        series: { name: kind, points: series.points },
      };
    });
    const { h } = Keel;
    return h("div", {},
      Keel.table(["Kind", "Plugin", "Calls", "Errors", "Faults", "Busy", "Mean ms", "Max ms"], kinds.map((kind, i) => ({
        attributes: { "data-plugin": kind },
        cells: [
          kind,
          stats[`plugin.${kind}`],
          stats[`plugin.${kind}.calls`],
          stats[`plugin.${kind}.errors`],
          h("span", { class: stats[`plugin.${kind}.faults`] === "0" ? null : "bad" }, stats[`plugin.${kind}.faults`]),
          stats[`plugin.${kind}.busy`],
          Keel.format(latency[i].mean),
          Keel.format(latency[i].max),
        ],
      }))),
      h("p", { class: "muted" }, "Mean call latency per poll interval (ms):"),
      Keel.chart(latency.map((entry) => entry.series), "ms"));
  },
});
