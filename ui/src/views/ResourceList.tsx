import { useMemo, useState } from "react";
import type { Resource } from "../api/types";
import { Link, Pager, StatusBadge } from "../components/common";
import { usePage } from "../hooks";
import { phaseOf } from "../status";

export function nameOf(r: Pick<Resource, "properties" | "id">): string {
  const n = r.properties?.display_name;
  return typeof n === "string" && n ? n : r.id;
}

// filterResources keeps the resources whose name, description, template or
// id contain the text, in the status group chosen.
export function filterResources(list: Resource[], text: string, group: string): Resource[] {
  const t = text.trim().toLowerCase();
  return list.filter((r) => {
    if (group === "disabled" && r.isEnabled) return false;
    if (group !== "all" && group !== "disabled" && phaseOf(r.deploymentStatus) !== group) return false;
    if (!t) return true;
    const hay = [nameOf(r), r.properties?.description, r.templateName, r.id].map((x) => String(x ?? "").toLowerCase());
    return hay.some((h) => h.includes(t));
  });
}

const groups = [
  { id: "all", label: "All" },
  { id: "running", label: "In progress" },
  { id: "awaiting", label: "Waiting" },
  { id: "succeeded", label: "Done" },
  { id: "failed", label: "Failed" },
  { id: "disabled", label: "Disabled" },
];

// ResourceList shows resources as cards, with a text filter, a status
// filter and pages.
export function ResourceList({ items, noun, empty }: { items: Resource[]; noun: string; empty: React.ReactNode }) {
  const [text, setText] = useState("");
  const [group, setGroup] = useState("all");
  const filtered = useMemo(
    () => filterResources(items, text, group).sort((a, b) => nameOf(a).localeCompare(nameOf(b))),
    [items, text, group],
  );
  const { page, index, pages, setIndex } = usePage(filtered);
  if (items.length === 0) return <div className="empty">{empty}</div>;
  return (
    <div className="resource-list">
      <div className="filters" role="search">
        <label className="field inline">
          Filter {noun}s
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="name, template or id" />
        </label>
        <label className="field inline">
          Status
          <select value={group} onChange={(e) => setGroup(e.target.value)}>
            {groups.map((g) => (
              <option key={g.id} value={g.id}>
                {g.label}
              </option>
            ))}
          </select>
        </label>
        <span className="muted" aria-live="polite">
          {filtered.length} of {items.length}
        </span>
      </div>
      <ul className="cards">
        {page.map((r) => (
          <li key={r.id} className="card" data-resource={r.id}>
            <h3>
              <Link to={r.resourcePath}>{nameOf(r)}</Link>
            </h3>
            <StatusBadge status={r.deploymentStatus} enabled={r.isEnabled} />
            {typeof r.properties?.description === "string" && <p className="card-text">{r.properties.description}</p>}
            <p className="muted small">
              {r.templateName} {r.templateVersion}
              {r.availableUpgrades && r.availableUpgrades.length > 0 && <span className="tag">upgrade available</span>}
            </p>
          </li>
        ))}
      </ul>
      <Pager index={index} pages={pages} setIndex={setIndex} label={`${noun}s`} />
    </div>
  );
}
