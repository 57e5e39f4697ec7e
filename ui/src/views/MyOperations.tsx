import { useEffect } from "react";
import type { Operation } from "../api/types";
import { ErrorPanel, Link, Loading, Pager, StatusBadge, When } from "../components/common";
import { useGet, usePage } from "../hooks";

// MyOperations lists the caller's operations in progress. The list is read
// again every 10 s while it is open; an operation's own page follows it live.
export function MyOperations() {
  const ops = useGet<{ operations: Operation[] }>("/api/operations");
  const { reload } = ops;
  useEffect(() => {
    const t = setInterval(reload, 10_000);
    return () => clearInterval(t);
  }, [reload]);
  const sorted = [...(ops.data?.operations ?? [])].sort((a, b) => b.createdWhen - a.createdWhen);
  const { page, index, pages, setIndex } = usePage(sorted, 15);
  return (
    <>
      <div className="page-head">
        <h1>My operations in progress</h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <ErrorPanel error={ops.error} title="The operations could not be read" />
      {ops.loading && !ops.data && <Loading what="operations" />}
      {ops.data && sorted.length === 0 && <p>None of your operations is in progress.</p>}
      {page.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Operation</th>
                <th scope="col">Resource</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
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
                    <Link to={op.resourcePath}>{op.resourcePath}</Link>
                  </td>
                  <td>
                    <StatusBadge status={op.status} />
                  </td>
                  <td>
                    <When t={op.createdWhen} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager index={index} pages={pages} setIndex={setIndex} label="operations" />
    </>
  );
}
