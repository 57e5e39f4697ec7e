import { singleKey, typeNoun } from "../api/paths";
import type { HistoryItem, Operation, Resource } from "../api/types";
import { ErrorPanel, Link, Loading, Pager, PropertyList, StatusBadge, When } from "../components/common";
import { OperationView } from "../components/OperationView";
import { useGet, usePage } from "../hooks";
import { allowed } from "../permissions";
import type { ResourceRef } from "../router";
import { typeOf, useCaller } from "./ResourceView";

// OperationsTab lists a resource's operations, newest first.
export function OperationsTab({ path }: { path: string }) {
  const ops = useGet<{ operations: Operation[] }>(`/api${path}/operations`);
  const sorted = [...(ops.data?.operations ?? [])].sort((a, b) => b.createdWhen - a.createdWhen);
  const { page, index, pages, setIndex } = usePage(sorted, 10);
  return (
    <section aria-labelledby="ops-title">
      <h2 id="ops-title">Operations</h2>
      <ErrorPanel error={ops.error} title="The operations could not be read" />
      {ops.loading && !ops.data && <Loading what="operations" />}
      {ops.data && sorted.length === 0 && <p>No operations.</p>}
      {page.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Operation</th>
                <th scope="col">Status</th>
                <th scope="col">Steps</th>
                <th scope="col">Started</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {page.map((op) => (
                <tr key={op.id}>
                  <td>
                    <Link to={`${op.resourcePath}/operations/${op.id}`}>
                      {op.action} · {op.id.slice(0, 8)}
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={op.status} />
                  </td>
                  <td>{op.steps.length}</td>
                  <td>
                    <When t={op.createdWhen} />
                  </td>
                  <td>{op.user?.name || op.user?.id}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager index={index} pages={pages} setIndex={setIndex} label="operations" />
    </section>
  );
}

// HistoryTab lists a resource's earlier versions (each as it was before a
// change), newest first.
export function HistoryTab({ path }: { path: string }) {
  const hist = useGet<{ resource_history: HistoryItem[] }>(`/api${path}/history`);
  const sorted = [...(hist.data?.resource_history ?? [])].sort((a, b) => b.resourceVersion - a.resourceVersion);
  const { page, index, pages, setIndex } = usePage(sorted, 10);
  return (
    <section aria-labelledby="hist-title">
      <h2 id="hist-title">History</h2>
      <p className="muted">Each entry is the resource as it was before a change.</p>
      <ErrorPanel error={hist.error} title="The history could not be read" />
      {hist.loading && !hist.data && <Loading what="history" />}
      {hist.data && sorted.length === 0 && <p>No changes yet.</p>}
      <ol className="history">
        {page.map((h) => (
          <li key={h.id}>
            <p>
              <strong>Version {h.resourceVersion}</strong> · template {h.templateVersion} · {h.isEnabled ? "enabled" : "disabled"} ·
              changed <When t={h.updatedWhen} /> by {h.user?.name || h.user?.id}
            </p>
            <details>
              <summary>Properties</summary>
              <PropertyList props={h.properties} />
            </details>
          </li>
        ))}
      </ol>
      <Pager index={index} pages={pages} setIndex={setIndex} label="history" />
    </section>
  );
}

// OperationPage is one operation on its own page.
export function OperationPage({ refTo, path, operationId }: { refTo: ResourceRef; path: string; operationId: string }) {
  const type = typeOf(refTo);
  const { caller } = useCaller(refTo);
  // The resource may be gone (deleted): its operations stay readable.
  const res = useGet<Record<string, Resource>>(`/api${path}`);
  const resource = res.data?.[singleKey[type]];
  const op = useGet<{ operation: Operation }>(`/api${path}/operations/${operationId}`);
  return (
    <>
      <div className="page-head">
        <h1>Operation</h1>
        <Link to={path}>{resource ? `Back to the ${typeNoun[type]}` : `The ${typeNoun[type]}`}</Link>
      </div>
      <ErrorPanel error={op.error} title="The operation could not be read" />
      {op.data && (
        <OperationView
          path={`${path}/operations/${operationId}`}
          initial={op.data.operation}
          canRetry={allowed("retry", type, caller, resource)}
          canFail={allowed("fail", type, caller)}
        />
      )}
    </>
  );
}
