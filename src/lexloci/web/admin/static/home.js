// The overview: the user's role in words, and a figure for each section the role may use.
import { api, boot, can, showError } from "./core.js";

boot(async (me) => {
  document.getElementById("home-name").textContent = me.name;
  document.getElementById("home-role").textContent = me.role;
  const error = document.getElementById("home-error");
  const set = (id, value) => {
    document.getElementById(id).textContent = String(value);
  };
  const jobs = [];
  if (can(me, "cases.read")) {
    jobs.push(api("GET", "/cases", { query: { status: "received" } }).then((b) => set("count-received", b.cases.length)));
  }
  if (can(me, "sessions.read")) {
    jobs.push(
      api("GET", "/sessions", { query: { live: "true" } }).then((b) => {
        set("count-sessions", b.sessions.length);
        set("count-participants", b.sessions.reduce((n, s) => n + s.participants.joined, 0));
      }),
    );
  }
  if (can(me, "restrictions.read")) {
    jobs.push(api("GET", "/restrictions", { query: { status: "active" } }).then((b) => set("count-restrictions", b.restrictions.length)));
  }
  if (can(me, "audit.checkpoint")) {
    jobs.push(api("GET", "/audit/checkpoint").then((b) => set("count-audit", b.size)));
  }
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) showError(error, failed.reason);
});
