// The cluster's license, as the license plugin judged it.
"use strict";

Keel.view({
  id: "license",
  title: "License",
  order: 50,
  paths: ["/v1/operator/license"],
  render(data) {
    const reply = data["/v1/operator/license"];
    const license = reply && reply.License;
    if (!license) return Keel.h("p", { class: "muted" }, "No license is installed.");
    const expires = Date.parse(license.ExpirationTime);
    const expired = Number.isFinite(expires) && expires < Date.now();
    return Keel.h("div", {},
      Keel.tiles([
        [expired ? "expired" : "valid", "status", { class: expired ? "bad" : "ok" }],
        [license.ExpirationTime.slice(0, 10), "expires"],
      ]),
      Keel.table(["License", "Customer", "Product", "Features"], [[
        license.LicenseID, license.CustomerID, license.Product, (license.Features || []).join(", ") || "none",
      ]]));
  },
});
