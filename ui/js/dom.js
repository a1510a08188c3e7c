// Building the interface without innerHTML: every piece of text goes in as a text node, so a
// name like `<img src=x onerror=…>` shows literally and can never run.

/** Properties set after the children (a select's value needs its options first). */
const LATE_PROPERTIES = ["value", "checked", "selected", "indeterminate"];

/**
 * h("button", {id: "x", class: "primary", onclick: f}, "Text", child, [more]) → an element.
 * Attributes that are null, undefined or false are left out; `true` sets an empty attribute.
 */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  const late = [];
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") {
      element.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (name === "dataset") {
      for (const [key, data] of Object.entries(value)) {
        if (data !== null && data !== undefined) element.dataset[key] = String(data);
      }
    } else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (LATE_PROPERTIES.includes(name)) {
      late.push([name, value]);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  for (const [name, value] of late) element[name] = value;
  return element;
}

/** Appends strings (as text), numbers, nodes and nested arrays; skips null, undefined, false. */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces every child of `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** A unique id for label/aria wiring. */
let counter = 0;
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** Calls `fn` once `wait` ms have passed without another call; `.flush()` runs a pending call now. */
export function debounce(fn, wait) {
  let timer = null;
  let pending = null;
  const debounced = (...args) => {
    pending = args;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      const call = pending;
      pending = null;
      fn(...call);
    }, wait);
  };
  debounced.flush = () => {
    if (timer === null) return;
    clearTimeout(timer);
    timer = null;
    const call = pending;
    pending = null;
    fn(...call);
  };
  debounced.cancel = () => {
    clearTimeout(timer);
    timer = null;
    pending = null;
  };
  return debounced;
}

/** Moves focus to `element` without scrolling the page past it. */
export function focus(element) {
  if (element && typeof element.focus === "function") element.focus({ preventScroll: false });
}
