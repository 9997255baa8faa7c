"use strict";
// Signs in and goes where the user belongs: grid workers to their phone page, everyone else to the wall.
document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const res = await fetch("/api/auth/token", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
  });
  if (!res.ok) {
    document.getElementById("error").textContent = (await res.json()).detail || `error ${res.status}`;
    return;
  }
  const { user } = await res.json();
  const next = new URLSearchParams(location.search).get("next");
  const safeNext = next && next.startsWith("/") && !next.startsWith("//") ? next : null;
  location.href = safeNext || (user.role.startsWith("grid_") ? "/worker" : "/");
});
