// The resolver box: type `storage`, `storage / s3` or `adapter / storage / s3`
// and see what GET /v1/resolve chooses, its fallbacks, what it left out and why.
// The answer is asked again when an event could change it (a health change of
// a candidate, a failover), and a change of choice is shown as a failover.
import { ApiProblem, api } from "./api.js";
import { clockTime, h, milliseconds } from "./dom.js";

/** `storage / s3` → { domain: "adapter", category: "storage", provider: "s3" }; undefined if empty. */
export function parseRequirement(text) {
  const parts = text
    .split("/")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  if (parts.length === 0 || parts.length > 3) return undefined;
  const [domain, category, provider] = parts.length === 3 ? parts : ["adapter", parts[0], parts[1]];
  return provider === undefined ? { domain, category } : { domain, category, provider };
}

export class Resolver {
  /** @param {HTMLFormElement} form @param {HTMLElement} output */
  constructor(form, output) {
    this.form = form;
    this.output = output;
    this.input = form.querySelector("input[name=requirement]");
    this.requirement = undefined;
    this.answer = undefined;
    this.failovers = [];
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const requirement = parseRequirement(this.input.value);
      if (!requirement) {
        this.show(
          h(
            "p",
            { class: "error" },
            "Type a category, category / provider, or domain / category / provider.",
          ),
        );
        return;
      }
      this.requirement = requirement;
      this.answer = undefined;
      this.failovers = [];
      void this.ask();
    });
  }

  /** Whether an event about `adapterId` may change the answer shown. */
  concerns(adapterId) {
    if (!this.answer) return false;
    const { choice, fallbacks, excluded } = this.answer;
    return [choice, ...fallbacks, ...excluded].some(
      (candidate) => candidate?.adapter_id === adapterId,
    );
  }

  /** A `failover` event: asked again when it is about the requirement shown. */
  failover(data) {
    if (!this.requirement) return;
    const asked = this.requirement;
    const about = data.requirement ?? {};
    if (about.category === asked.category && (about.domain ?? "adapter") === asked.domain) {
      void this.ask(data.reason);
    }
  }

  async ask(eventReason) {
    const requirement = this.requirement;
    if (!requirement) return;
    try {
      const answer = await api.resolve(requirement);
      if (requirement !== this.requirement) return;
      const before = this.answer?.choice?.adapter_id ?? null;
      const after = answer.choice?.adapter_id ?? null;
      if (this.answer && before !== after) {
        // Why the old choice went: the failover event's reason, else why it is left out now.
        const left = answer.excluded.find((entry) => entry.adapter_id === before);
        const reason =
          eventReason ?? left?.excluded_because ?? `${before} is no longer the best match`;
        this.failovers.unshift({ from: before, to: after, at: answer.at, reason });
      }
      this.answer = answer;
      this.render();
    } catch (error) {
      this.show(
        h("p", { class: "error" }, error instanceof ApiProblem ? error.message : String(error)),
      );
    }
  }

  show(...nodes) {
    this.output.replaceChildren(...nodes);
  }

  render() {
    const { choice, fallbacks, excluded, reason, panic } = this.answer;
    const candidate = (entry, role) =>
      h(
        "li",
        { class: `candidate candidate-${role}`, dataset: { adapterId: entry.adapter_id, role } },
        h(
          "span",
          { class: `status status-${entry.maintenance ? "maintenance" : entry.status}` },
          entry.status,
        ),
        " ",
        h("span", { class: "adapter-id" }, entry.adapter_id),
        ` ${milliseconds(entry.latency_ms)}`,
        entry.excluded_because ? h("span", { class: "why" }, ` — ${entry.excluded_because}`) : "",
      );
    this.show(
      this.failovers.length > 0
        ? h(
            "ul",
            { class: "failovers", dataset: { failover: "shown" } },
            this.failovers.map((failover) =>
              h(
                "li",
                { class: "failover" },
                h("strong", {}, "Failover"),
                ` at ${clockTime(failover.at)}: ${failover.from ?? "nothing"} → ${failover.to ?? "nothing usable"}`,
                h("span", { class: "why" }, ` (${failover.reason})`),
              ),
            ),
          )
        : "",
      h(
        "div",
        { class: "choice", dataset: { choice: choice?.adapter_id ?? "" } },
        h("span", { class: "label" }, panic ? "Choice (panic: nothing healthy)" : "Choice"),
        choice
          ? h("ul", {}, candidate(choice, "choice"))
          : h("p", { class: "error" }, "nothing usable"),
      ),
      h("p", { class: "reason" }, reason),
      fallbacks.length > 0
        ? h(
            "div",
            {},
            h("span", { class: "label" }, `Fallbacks (${this.answer.fallbacks_total})`),
            h(
              "ol",
              {},
              fallbacks.map((entry) => candidate(entry, "fallback")),
            ),
          )
        : "",
      excluded.length > 0
        ? h(
            "div",
            {},
            h("span", { class: "label" }, `Left out (${this.answer.excluded_total})`),
            h(
              "ul",
              {},
              excluded.map((entry) => candidate(entry, "excluded")),
            ),
          )
        : "",
    );
  }
}
