// Small DOM helpers. Text always goes in as text (never innerHTML), so nothing a user
// typed can run as markup.

/** h("button", {type: "button", onclick}, "Label") builds an element. Attributes whose
 * name starts with "on" become listeners; `null`/`false` attributes are left out. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
/** A unique element id, for label/for pairs in generated forms. */
export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled input: returns [label, input]. */
export function field(labelText, attrs = {}) {
  const id = attrs.id || nextId("f");
  const tag = attrs.tag || "input";
  const { tag: _ignored, options, ...rest } = attrs;
  const input = h(tag, { id, ...rest });
  if (tag === "select") {
    for (const [value, text] of options || []) input.append(h("option", { value }, text));
    if (attrs.value !== undefined) input.value = attrs.value;
  }
  return [h("label", { for: id }, labelText), input];
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
});

export function fmtTime(iso) {
  return iso ? timeFormat.format(new Date(iso)) : "";
}

export function fmtDateTime(iso) {
  return iso ? dateTimeFormat.format(new Date(iso)) : "";
}

export const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

export const STATUS_LABELS = { online: "online", away: "away", busy: "busy", offline: "offline" };
