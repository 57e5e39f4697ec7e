// @vitest-environment jsdom
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/client";
import type { Template } from "../api/types";
import { ResourceForm } from "./ResourceForm";

const template = {
  name: "t",
  title: "T",
  description: "d",
  version: "1.0.0",
  type: "object",
  required: ["display_name", "size"],
  properties: {
    display_name: { type: "string", title: "Name" },
    size: { type: "string", title: "Size", enum: ["small", "custom"], default: "small" },
    password: { type: "string", title: "Password", sensitive: true },
  },
  allOf: [
    {
      if: { properties: { size: { const: "custom" } }, required: ["size"] },
      then: { properties: { cidr: { type: "string", title: "CIDR" } }, required: ["cidr"] },
    },
  ],
} as unknown as Template;

describe("ResourceForm", () => {
  it("sends the defaults, shows the API's field errors at their fields, keeps the input and focuses the first field at fault", async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn(async () =>
      new ApiError({
        status: 400,
        detail: "Invalid properties",
        requestId: "req-9",
        errors: [{ field: "properties.display_name", message: "display_name is required" }],
      }),
    );
    render(<ResourceForm template={template} mode="create" initial={{}} submitLabel="Create" onSubmit={onSubmit} />);
    expect(screen.getByLabelText(/Password/).getAttribute("type")).toBe("password");
    await user.type(screen.getByLabelText(/Password/), "s3cret!!");
    await user.click(screen.getByRole("button", { name: "Create" }));
    expect(onSubmit).toHaveBeenCalledWith({ size: "small", password: "s3cret!!" });
    const error = await screen.findByText("display_name is required", { selector: "li.text-danger" });
    const name = screen.getByLabelText(/Name/);
    expect(name.closest(".rjsf-field-error")).toBe(error.closest(".rjsf-field-error"));
    await waitFor(() => expect(document.activeElement).toBe(name));
    expect(screen.getByTestId("request-id").textContent).toBe("req-9");
    expect((screen.getByLabelText(/Password/) as HTMLInputElement).value).toBe("s3cret!!");

    // The error stays until the field changes.
    await user.type(name, "My workspace");
    expect(screen.queryByText("display_name is required", { selector: "li.text-danger" })).toBeNull();
  });

  it("shows the branch of a condition the data meets", async () => {
    const user = userEvent.setup();
    render(<ResourceForm template={template} mode="create" initial={{}} submitLabel="Create" onSubmit={vi.fn(async () => undefined)} />);
    expect(screen.queryByLabelText(/CIDR/)).toBeNull();
    await user.selectOptions(screen.getByLabelText(/Size/), "custom");
    expect(await screen.findByLabelText(/CIDR/)).toBeTruthy();
  });

  it("lists in the summary an error of no field here", async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn(async () => new ApiError({ status: 409, detail: "Workspace is not deployed." }));
    render(<ResourceForm template={template} mode="create" initial={{ display_name: "x" }} submitLabel="Create" onSubmit={onSubmit} />);
    await user.click(screen.getByRole("button", { name: "Create" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Workspace is not deployed.");
    await waitFor(() => expect(document.activeElement).toBe(alert));
  });
});
