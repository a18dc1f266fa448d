// HTTP requests per second this agent answered, by status class.
"use strict";

Keel.view({
  id: "traffic",
  title: "HTTP requests",
  order: 40,
  paths: ["/v1/metrics"],
  render(data) {
    const requests = data["/v1/metrics"].Samples.filter((sample) => sample.Name === "nomad.http.request");
    const classes = ["2xx", "4xx", "5xx"];
    const series = classes.map((name) => {
      const total = requests.filter((sample) => `${sample.Labels.code[0]}xx` === name)
        .reduce((sum, sample) => sum + sample.Count, 0);
      return { name, points: Keel.rate(`http.${name}`, total).points };
    });
    const busiest = [...requests].sort((a, b) => b.Count - a.Count).slice(0, 5);
    return Keel.h("div", {},
      Keel.chart(series, "req/s"),
      Keel.table(["Method", "Route", "Code", "Requests", "Mean ms"], busiest.map((sample) => [
        sample.Labels.method, sample.Labels.route, sample.Labels.code, sample.Count, Keel.format(sample.Mean),
      ])));
  },
});
