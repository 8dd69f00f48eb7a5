// The meeting client: join through the geographic gate, then media with every other member of
// the roster — a WebRTC mesh with signalling relayed by the server (see api/routes/signalling.py)
// or, when the join's `media` says {kind: "janus"}, through the Janus SFU (see "Janus mode"
// below). The roster, the notices and a removal always come over lexloci's signalling socket.
//
// Peer protocol, carried in the server's {"type": "signal", "to": id, "data": {...}} relay:
//   {kind: "offer", pcid, sdp}   {kind: "answer", pcid, sdp}
//   {kind: "candidate", pcid, candidate}   {kind: "ready"}
//
// Why it looks like this:
// - For each pair the newcomer (later joined_at, then the larger id) makes the offer, so two
//   peers never offer to each other at once and no glare handling is needed.
// - The server relays only to members whose socket is open. An offer made to a member who
//   joined over HTTP but has not connected yet is lost, so a member who connects says "ready"
//   to every newer member, and a newcomer answers "ready" with a fresh offer unless media is
//   already negotiated. Whichever side connects last therefore starts the negotiation.
// - Each offer has its own pcid and every message names it: a message for a connection that
//   was replaced since is ignored instead of corrupting the new one.
// - Messages of one peer are handled strictly in order (Peer.run), because an ICE candidate
//   may only be added after the description it belongs to.
// - Everything user-supplied is written with textContent, never as HTML.

const root = document.getElementById("meeting");
const sessionId = root.dataset.sessionId;
const lang = root.dataset.lang;
const t = JSON.parse(document.getElementById("strings").textContent);
const el = (id) => document.getElementById(id);
const regionNames = new Intl.DisplayNames([lang], { type: "region" });
const MAX_HOST_NOTICES = 5;
const MAX_OFFER_ATTEMPTS = 3;

const state = {
  me: null, // the join response: participant_id, token, signalling_url, ...
  ws: null,
  local: null, // the camera/microphone stream, or null when unavailable
  roster: new Map(), // participant id -> roster entry, as the server last sent it
  peers: new Map(), // participant id -> Peer
  sfu: null, // Janus mode: the JanusLink of this join, else null (the mesh)
  over: true, // not in a meeting (before joining, or after being removed / leaving)
};

function fmt(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

function place(territory) {
  if (!territory) return t.unknown_location;
  try {
    const name = regionNames.of(territory);
    return name && name !== territory ? `${name} (${territory})` : territory;
  } catch {
    return territory; // a subdivision such as UA-43 has no region display name
  }
}

function setStatus(text) {
  el("status").textContent = text;
}

// -- the join ------------------------------------------------------------------------------

function showJoinError(text) {
  const error = el("join-error");
  error.textContent = text;
  error.hidden = !text;
}

function setBusy(busy) {
  const button = el("join");
  button.disabled = busy;
  button.textContent = busy ? t.joining : t.join;
}

function showNotice(heading, text, { rejoin = true } = {}) {
  el("notice-heading").textContent = heading;
  el("notice-text").textContent = text;
  el("rejoin").hidden = !rejoin;
  el("notice").hidden = false;
  el("notice").focus(); // keyboard and screen-reader users land on the notice
}

function noticeText(notice, fallback) {
  if (!notice) return fallback;
  return (notice.texts && notice.texts[lang]) || notice.text || fallback;
}

async function join(event) {
  event.preventDefault();
  showJoinError("");
  const name = el("display-name").value.trim();
  if (!name || name.length > 100) {
    showJoinError(t.name_required);
    el("display-name").focus();
    return;
  }
  setBusy(true);
  let response;
  let body = null;
  try {
    response = await fetch(`/api/v1/sessions/${encodeURIComponent(sessionId)}/join`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ display_name: name }),
    });
  } catch {
    setBusy(false);
    showJoinError(t.network_error);
    return;
  }
  try {
    body = await response.json();
  } catch {
    body = null; // a proxy's HTML error page, say: reported by status below
  }
  setBusy(false);
  const error = body && body.error;
  if (response.status === 403 && error && error.code === "geo_restricted") {
    el("join-panel").hidden = true;
    showNotice(t.blocked_heading, noticeText(error.notice, error.message));
    return;
  }
  if (response.status !== 201 || !body || !body.token) {
    showJoinError(fmt(t.error, { message: (error && error.message) || `HTTP ${response.status}` }));
    return;
  }
  state.me = body;
  state.over = false;
  el("join-panel").hidden = true;
  el("notice").hidden = true;
  el("room").hidden = false;
  el("leave").hidden = false;
  el("local-caption").textContent = `${name} (${t.you}) · ${place(body.territory)}`;
  setStatus(t.status_camera);
  state.local = await startCamera();
  if (state.over) return; // removed while the camera was starting: nothing more to do
  setStatus(t.status_connecting);
  connect(body);
  if (body.media && body.media.kind === "janus") startJanus(body.media);
}

async function startCamera() {
  const warning = el("media-warning");
  warning.hidden = true;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    // Browsers offer cameras only to secure pages (HTTPS or localhost).
    warning.textContent = fmt(t.camera_unavailable, { reason: "no media devices on this page" });
    warning.hidden = false;
    return null;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    el("local-video").srcObject = stream;
    return stream;
  } catch (error) {
    warning.textContent = fmt(t.camera_unavailable, { reason: error.name || String(error) });
    warning.hidden = false;
    return null;
  }
}

// -- signalling ----------------------------------------------------------------------------

function connect(joined) {
  const url = new URL(joined.signalling_url, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  state.ws = ws;
  // The token goes in the first message, never in the URL, so it never reaches an access log.
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", token: joined.token }));
  ws.onmessage = (event) => {
    if (state.ws !== ws) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    handle(message);
  };
  ws.onclose = (event) => {
    if (state.ws !== ws || state.over) return;
    // A removal or the end of the session normally arrives as a message first; the close
    // code covers the case where the message was lost.
    if (event.code === 4403) end(t.removed_heading, t.removed_generic);
    else if (event.code === 4410) end(t.ended, "");
    else if (event.code === 4401) end(t.connection_lost, t.hello_refused);
    else end(t.connection_lost, "");
  };
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

function signal(to, data) {
  send({ type: "signal", to, data });
}

function handle(message) {
  switch (message.type) {
    case "welcome":
      onWelcome(message);
      break;
    case "roster":
      onRoster(message.participants);
      break;
    case "signal":
      onSignal(message.from, message.data);
      break;
    case "host_notice":
      // The server's text is in English; a localized one, when the server sends it, wins.
      showHostNotice((message.texts && message.texts[lang]) || message.text);
      break;
    case "removed":
      onRemoved(message.notice);
      break;
    case "session_ended":
      end(t.ended, "");
      break;
    case "error":
      // A relay to a member who is not connected yet is expected (see "ready" above).
      if (message.code !== "not_in_roster") console.warn("signalling error", message);
      break;
    default:
      break;
  }
}

function onWelcome(message) {
  setStatus(t.status_connected);
  onRoster(message.participants);
  if (state.sfu) return; // Janus mode: no peer-to-peer offers
  for (const member of message.participants) {
    if (member.id === state.me.participant_id) continue;
    const peer = peerFor(member.id);
    if (isNewcomer(state.me.participant_id, member.id)) makeOffer(peer);
    else signal(member.id, { kind: "ready" });
  }
}

function onRoster(participants) {
  const next = new Map(participants.map((p) => [p.id, p]));
  for (const id of [...state.peers.keys()]) {
    if (!next.has(id)) closePeer(id);
  }
  state.roster = next;
  for (const member of participants) {
    if (member.id !== state.me.participant_id) peerFor(member.id);
  }
  for (const peer of state.peers.values()) captionTile(peer);
  renderRoster();
  if (state.sfu) syncSubscriptions(state.sfu);
}

function onSignal(from, data) {
  // In Janus mode media goes through the SFU only: a peer's offer is never answered.
  if (state.sfu || !data || typeof data !== "object") return;
  const peer = peerFor(from);
  if (data.kind === "offer") peer.run(() => acceptOffer(peer, data));
  else if (data.kind === "answer") peer.run(() => acceptAnswer(peer, data));
  else if (data.kind === "candidate") peer.run(() => addCandidate(peer, data));
  else if (data.kind === "ready") peer.run(() => onReady(peer));
}

function onRemoved(notice) {
  if (notice && notice.kind === "removed_by_host") {
    end(t.removed_heading, fmt(t.removed_by_host, { reason: notice.message || "" }));
  } else {
    end(t.removed_heading, noticeText(notice, t.removed_generic));
  }
}

function showHostNotice(text) {
  const banners = el("host-notices");
  const banner = document.createElement("p");
  banner.className = "banner";
  const heading = document.createElement("strong");
  heading.textContent = `${t.host_notice_heading}:`;
  banner.append(heading, document.createTextNode(text));
  banners.prepend(banner);
  while (banners.children.length > MAX_HOST_NOTICES) banners.lastElementChild.remove();
}

// -- the mesh ------------------------------------------------------------------------------

class Peer {
  constructor(id) {
    this.id = id;
    this.pc = null;
    this.pcid = null;
    this.media = "waiting";
    this.attempts = 0;
    this.queue = Promise.resolve();
    this.tile = null;
    this.video = null;
    this.caption = null;
    this.feed = null; // Janus mode: the Feed this tile shows
  }

  run(task) {
    this.queue = this.queue.then(task).catch((error) => console.warn("peer", this.id, error));
    return this.queue;
  }
}

function joinKey(member) {
  // joined_at is an ISO 8601 time with up to microseconds; Date.parse keeps milliseconds only.
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec((member && member.joined_at) || "");
  if (!match) return [0, 0];
  return [Date.parse(match[1] + match[3]), Number((match[2] || "").padEnd(6, "0").slice(0, 6))];
}

function isNewcomer(id, otherId) {
  const [a, b] = [joinKey(state.roster.get(id)), joinKey(state.roster.get(otherId))];
  if (a[0] !== b[0]) return a[0] > b[0];
  if (a[1] !== b[1]) return a[1] > b[1];
  return id > otherId;
}

function peerFor(id) {
  let peer = state.peers.get(id);
  if (!peer) {
    peer = new Peer(id);
    state.peers.set(id, peer);
    addTile(peer);
  }
  return peer;
}

function openConnection(peer, pcid) {
  if (peer.pc) peer.pc.close();
  const pc = new RTCPeerConnection({ iceServers: [] }); // host candidates only: no STUN/TURN
  peer.pc = pc;
  peer.pcid = pcid;
  pc.onicecandidate = (event) => {
    if (event.candidate && peer.pc === pc) {
      signal(peer.id, { kind: "candidate", pcid, candidate: event.candidate.toJSON() });
    }
  };
  pc.ontrack = (event) => {
    if (peer.pc !== pc) return;
    const stream = event.streams[0] || new MediaStream([event.track]);
    if (peer.video.srcObject !== stream) {
      peer.video.srcObject = stream;
      peer.video.play().catch(() => {}); // autoplay starts it anyway once allowed
    }
  };
  pc.onconnectionstatechange = () => {
    if (peer.pc !== pc) return;
    setMedia(peer, pc.connectionState);
    if (pc.connectionState === "failed" && isNewcomer(state.me.participant_id, peer.id)) {
      // Try again with a fresh connection a few times; the newcomer owns the negotiation.
      if (peer.attempts < MAX_OFFER_ATTEMPTS) setTimeout(() => makeOffer(peer), 1000);
    }
  };
  setMedia(peer, "connecting");
  return pc;
}

function newPcid() {
  return `${state.me.participant_id}.${crypto.getRandomValues(new Uint32Array(2)).join("")}`;
}

function makeOffer(peer) {
  return peer.run(async () => {
    if (state.over || !state.peers.has(peer.id)) return;
    peer.attempts += 1;
    const pc = openConnection(peer, newPcid());
    if (state.local) {
      for (const track of state.local.getTracks()) pc.addTrack(track, state.local);
    } else {
      pc.addTransceiver("audio", { direction: "recvonly" });
      pc.addTransceiver("video", { direction: "recvonly" });
    }
    await pc.setLocalDescription(await pc.createOffer());
    signal(peer.id, { kind: "offer", pcid: peer.pcid, sdp: pc.localDescription.sdp });
  });
}

async function acceptOffer(peer, data) {
  if (state.over || typeof data.sdp !== "string") return;
  const pc = openConnection(peer, data.pcid);
  await pc.setRemoteDescription({ type: "offer", sdp: data.sdp });
  // After the remote offer, addTrack reuses the transceivers the offer created.
  if (state.local) {
    for (const track of state.local.getTracks()) pc.addTrack(track, state.local);
  }
  await pc.setLocalDescription(await pc.createAnswer());
  signal(peer.id, { kind: "answer", pcid: data.pcid, sdp: pc.localDescription.sdp });
}

async function acceptAnswer(peer, data) {
  const pc = peer.pc;
  if (!pc || peer.pcid !== data.pcid || pc.signalingState !== "have-local-offer") return;
  await pc.setRemoteDescription({ type: "answer", sdp: data.sdp });
}

async function addCandidate(peer, data) {
  if (!peer.pc || peer.pcid !== data.pcid || !data.candidate) return;
  await peer.pc.addIceCandidate(data.candidate);
}

function onReady(peer) {
  if (!isNewcomer(state.me.participant_id, peer.id)) return;
  const pc = peer.pc;
  if (pc && pc.remoteDescription && pc.connectionState !== "failed") return; // already negotiated
  peer.attempts = 0;
  makeOffer(peer);
}

function closePeer(id) {
  const peer = state.peers.get(id);
  if (!peer) return;
  state.peers.delete(id);
  if (peer.pc) peer.pc.close();
  peer.pc = null;
  if (peer.feed) unsubscribe(peer.feed);
  if (peer.video) peer.video.srcObject = null;
  if (peer.tile) peer.tile.remove();
}

function setMedia(peer, connectionState) {
  const map = { new: "connecting", connecting: "connecting", connected: "connected" };
  peer.media = map[connectionState] || (connectionState === "failed" ? "failed" : "waiting");
  renderRoster();
}

// -- Janus mode ----------------------------------------------------------------------------
//
// The join's `media` names Janus's public API (`url`), a VideoRoom room and a token that Janus
// and the room accept for this participant only (docs/janus.md). The page
// - loads janus.js and adapter.js from lexloci itself (static/vendor/, copied from npm by
//   scripts/vendor-js), and only in this mode;
// - opens a Janus session with the token, joins the room as a publisher whose `display` is its
//   participant id, and publishes its camera and microphone;
// - subscribes to each other publisher with a handle of its own, using the `private_id` of its
//   publisher handle (the room requires it), and shows it in that participant's tile — only for
//   a publisher whose display is a member of the roster lexloci sent (I3: no unlisted media).
// A removal reaches the page twice: lexloci first has Janus destroy the page's Janus session,
// then sends the removal notice over signalling. So nothing Janus says ends the meeting or
// writes a notice; a Janus failure only marks the media and shows a warning, and `end` (from
// signalling) tears the Janus session down.

const VENDOR = new URL("vendor/", import.meta.url);
let janusLibrary = null;

function loadJanus() {
  janusLibrary ??= (async () => {
    await import(new URL("webrtc-adapter.js", VENDOR).href); // defines window.adapter
    const { default: Janus } = await import(new URL("janus.es.js", VENDOR).href);
    const dependencies = Janus.useDefaultDependencies({ adapter: window.adapter });
    await new Promise((resolve) => Janus.init({ debug: false, dependencies, callback: resolve }));
    return Janus;
  })();
  return janusLibrary;
}

class JanusLink {
  constructor(media) {
    this.media = media;
    this.janus = null;
    this.publisher = null;
    this.privateId = null;
    this.feedId = null; // this page's own publisher id
    this.feeds = new Map(); // publisher id -> Feed
  }
}

class Feed {
  constructor(id, participant) {
    this.id = id;
    this.participant = participant; // the publisher's display: a participant id
    this.handle = null; // the subscriber handle, once attached
    this.tracks = new Map(); // mid -> MediaStreamTrack
    this.closed = false;
  }
}

async function startJanus(media) {
  const link = new JanusLink(media);
  state.sfu = link;
  let Janus;
  try {
    Janus = await loadJanus();
  } catch (error) {
    janusFailed(link, error);
    return;
  }
  if (state.sfu !== link) return; // left or removed meanwhile
  link.janus = new Janus({
    server: new URL(media.url, window.location.href).href,
    token: media.token,
    iceServers: [], // host candidates only: no STUN or TURN server is ever asked
    success: () => attachPublisher(link),
    error: (error) => janusFailed(link, error),
  });
}

function janusFailed(link, error) {
  if (state.sfu !== link || state.over) return; // a removal's notice is on its way, or shown
  console.warn("janus", error);
  const warning = el("media-warning");
  warning.textContent = fmt(t.media_server_lost, { reason: String(error) });
  warning.hidden = false;
  for (const peer of state.peers.values()) if (peer.feed) setMedia(peer, "failed");
}

function attachPublisher(link) {
  if (state.sfu !== link) return;
  link.janus.attach({
    plugin: link.media.plugin,
    success: (handle) => {
      link.publisher = handle;
      handle.send({
        message: {
          request: "join",
          ptype: "publisher",
          room: link.media.room,
          token: link.media.token,
          display: state.me.participant_id,
        },
      });
    },
    error: (error) => janusFailed(link, error),
    onmessage: (message, jsep) => onPublisherMessage(link, message, jsep),
  });
}

function onPublisherMessage(link, message, jsep) {
  if (state.sfu !== link) return;
  if (jsep) link.publisher.handleRemoteJsep({ jsep });
  const event = message.videoroom;
  if (event === "joined") {
    link.feedId = message.id;
    link.privateId = message.private_id;
    publish(link);
    addFeeds(link, message.publishers);
  } else if (event === "event") {
    addFeeds(link, message.publishers);
    // A publisher that stopped, left or was kicked; "ok" answers this page's own requests.
    for (const key of ["unpublished", "leaving", "kicked"]) {
      const id = message[key];
      if (id !== undefined && id !== "ok") dropFeed(link, id);
    }
    if (message.error) janusFailed(link, message.error);
  }
}

function publish(link) {
  if (!state.local) return; // no camera or microphone: listen only
  link.publisher.createOffer({
    // The camera the page already opened: its preview is the page's own local video.
    tracks: state.local.getTracks().map((track) => ({ type: track.kind, capture: track, recv: false })),
    success: (jsep) => link.publisher.send({ message: { request: "publish" }, jsep }),
    error: (error) => janusFailed(link, error),
  });
}

function addFeeds(link, publishers) {
  for (const publisher of publishers || []) {
    if (publisher.id === link.feedId || link.feeds.has(publisher.id)) continue;
    link.feeds.set(publisher.id, new Feed(publisher.id, String(publisher.display || "")));
  }
  syncSubscriptions(link);
}

function dropFeed(link, id) {
  const feed = link.feeds.get(id);
  if (!feed) return;
  link.feeds.delete(id);
  unsubscribe(feed);
}

function syncSubscriptions(link) {
  if (state.over || state.sfu !== link || link.privateId === null) return;
  for (const feed of link.feeds.values()) {
    const mine = feed.participant === state.me.participant_id;
    if (feed.handle || feed.closed || mine || !state.roster.has(feed.participant)) continue;
    subscribe(link, feed);
  }
}

function subscribe(link, feed) {
  const peer = peerFor(feed.participant);
  if (peer.feed && peer.feed !== feed) unsubscribe(peer.feed); // it republished
  peer.feed = feed;
  feed.handle = "attaching";
  setMedia(peer, "connecting");
  link.janus.attach({
    plugin: link.media.plugin,
    success: (handle) => {
      if (feed.closed || state.sfu !== link) {
        handle.detach();
        return;
      }
      feed.handle = handle;
      handle.send({
        message: {
          request: "join",
          ptype: "subscriber",
          room: link.media.room,
          streams: [{ feed: feed.id }],
          private_id: link.privateId,
        },
      });
    },
    error: (error) => janusFailed(link, error),
    onmessage: (message, jsep) => {
      if (!jsep || feed.closed) return;
      feed.handle.createAnswer({
        jsep,
        tracks: [{ type: "data" }], // audio and video are accepted receive-only
        success: (answer) =>
          feed.handle.send({ message: { request: "start", room: link.media.room }, jsep: answer }),
        error: (error) => janusFailed(link, error),
      });
    },
    iceState: (ice) => {
      if (feed.closed || peer.feed !== feed) return;
      const map = { checking: "connecting", connected: "connected", completed: "connected" };
      setMedia(peer, map[ice] || ice);
    },
    onremotetrack: (track, mid, on, metadata) => {
      if (feed.closed || peer.feed !== feed) return;
      // A remote track that is only muted for a while stays; an ended one goes.
      if (on) feed.tracks.set(mid, track);
      else if (metadata && metadata.reason === "mute") return;
      else feed.tracks.delete(mid);
      peer.video.srcObject = feed.tracks.size ? new MediaStream([...feed.tracks.values()]) : null;
      if (feed.tracks.size) peer.video.play().catch(() => {}); // autoplay starts it anyway
    },
  });
}

function unsubscribe(feed) {
  feed.closed = true;
  if (feed.handle && feed.handle !== "attaching") feed.handle.detach();
  feed.handle = null;
  feed.tracks.clear();
  const peer = state.peers.get(feed.participant);
  if (peer && peer.feed === feed) {
    peer.feed = null;
    peer.video.srcObject = null;
    setMedia(peer, "waiting");
  }
}

function stopJanus() {
  const link = state.sfu;
  state.sfu = null;
  if (!link || !link.janus) return;
  // Closes every peer connection here at once; the request to Janus that follows may find
  // the session already destroyed (a removal), which is fine.
  link.janus.destroy({ cleanupHandles: true, notifyDestroyed: false });
}

// -- rendering -----------------------------------------------------------------------------

function addTile(peer) {
  const figure = document.createElement("figure");
  figure.className = "tile";
  figure.dataset.participantId = peer.id;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.dataset.peer = peer.id;
  const caption = document.createElement("figcaption");
  figure.append(video, caption);
  el("tiles").append(figure);
  peer.tile = figure;
  peer.video = video;
  peer.caption = caption;
  captionTile(peer);
}

function captionTile(peer) {
  const member = state.roster.get(peer.id);
  const name = member ? member.display_name : peer.id;
  peer.caption.textContent = member ? `${name} · ${place(member.territory)}` : name;
  peer.video.setAttribute("aria-label", fmt(t.video_of, { name }));
}

function renderRoster() {
  const list = el("roster");
  const members = [...state.roster.values()];
  el("roster-count").textContent = `(${members.length})`;
  list.replaceChildren(
    ...members.map((member) => {
      const item = document.createElement("li");
      item.dataset.participantId = member.id;
      item.dataset.territory = member.territory || "";
      const name = document.createElement("span");
      name.className = "name";
      const mine = state.me && member.id === state.me.participant_id;
      name.textContent = mine ? `${member.display_name} (${t.you})` : member.display_name;
      const where = document.createElement("span");
      where.className = "where";
      where.textContent = place(member.territory);
      const status = document.createElement("span");
      status.className = "state";
      const peer = state.peers.get(member.id);
      const parts = [member.state === "joined" ? t.state_joined : member.state];
      if (peer) {
        parts.push(t[`media_${peer.media}`]);
        status.dataset.media = peer.media;
      }
      status.textContent = parts.join(" · ");
      item.append(name, where, status);
      return item;
    }),
  );
}

// -- leaving -------------------------------------------------------------------------------

function end(heading, text) {
  if (state.over) return;
  state.over = true;
  // Stop sending at once: the camera goes dark and every peer connection closes.
  if (state.local) for (const track of state.local.getTracks()) track.stop();
  state.local = null;
  el("local-video").srcObject = null;
  for (const id of [...state.peers.keys()]) closePeer(id);
  stopJanus();
  state.roster = new Map();
  el("room").hidden = true;
  el("leave").hidden = true;
  el("host-notices").replaceChildren();
  el("media-warning").hidden = true; // whatever the media said, the notice below is the news
  setStatus("");
  const ws = state.ws;
  state.ws = null;
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "client left");
  showNotice(heading, text);
}

function leave() {
  send({ type: "leave" });
  end(t.left, "");
}

function rejoin() {
  el("notice").hidden = true;
  el("join-panel").hidden = false;
  el("display-name").focus();
}

el("join-form").addEventListener("submit", join);
el("leave").addEventListener("click", leave);
el("rejoin").addEventListener("click", rejoin);
window.addEventListener("pagehide", () => {
  if (!state.over) send({ type: "leave" });
});
