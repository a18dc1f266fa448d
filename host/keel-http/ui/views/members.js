// The gossip pool as this agent sees it.
"use strict";

Keel.view({
  id: "members",
  title: "Gossip members",
  order: 20,
  paths: ["/v1/agent/members"],
  render(data) {
    const members = data["/v1/agent/members"].Members;
    const alive = members.filter((member) => member.Status === "alive").length;
    const { h } = Keel;
    return h("div", {},
      Keel.tiles([[`${alive} of ${members.length}`, "alive"]]),
      Keel.table(["Name", "Address", "Status", "Role", "Datacenter"], members.map((member) => ({
        attributes: { "data-member": member.Name, "data-status": member.Status },
        cells: [
          member.Name,
          `${member.Addr}:${member.Port}`,
          h("span", { class: member.Status === "alive" ? "ok" : "bad" }, member.Status),
          member.Tags.role || "",
          member.Tags.dc || "",
        ],
      }))));
  },
});
