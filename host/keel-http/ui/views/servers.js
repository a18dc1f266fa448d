// The servers as autopilot sees them: leader, voters, health, last contact.
"use strict";

Keel.view({
  id: "servers",
  title: "Servers",
  order: 10,
  wide: true,
  paths: ["/v1/operator/autopilot/health"],
  render(data) {
    const health = data["/v1/operator/autopilot/health"];
    const leader = health.Servers.find((server) => server.Leader);
    const { h } = Keel;
    return h("div", {},
      Keel.tiles([
        [leader ? leader.Name : "none", "leader", { "data-role": "leader-name", class: leader ? null : "bad" }],
        [health.Healthy ? "healthy" : "unhealthy", "autopilot", { class: health.Healthy ? "ok" : "bad" }],
        [String(health.FailureTolerance), "failure tolerance", { class: health.FailureTolerance > 0 ? "ok" : "warn" }],
        [`${health.Voters.length} of ${health.Servers.length}`, "voters"],
      ]),
      Keel.table(
        ["Name", "Address", "Role", "Voter", "Health", "Serf", "Last contact", "Term", "Last index", "Stable since"],
        health.Servers.map((server) => ({
          attributes: { "data-server": server.Name, "data-leader": server.Leader ? "true" : "false" },
          cells: [
            server.Name,
            server.Address,
            server.Leader ? h("b", {}, "leader") : "follower",
            server.Voter ? "yes" : "no",
            h("span", { class: server.Healthy ? "ok" : "bad" }, server.Healthy ? "healthy" : "unhealthy"),
            server.SerfStatus,
            server.Leader ? "–" : server.LastContact,
            server.LastTerm,
            server.LastIndex,
            server.StableSince,
          ],
        }))));
  },
});
