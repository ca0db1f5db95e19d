// The seed's own stack, for bench/ only: socket.io 4.8, one process, no persistence.
// PORT and JWT_SIGNING_KEY from the environment; the handshake's auth.token is checked
// as an HS256 JWT (user_id, exp), as collab checks its bearer tokens.
const { createHmac, timingSafeEqual } = require("node:crypto");
const { Server } = require("socket.io");
const io = new Server(Number(process.env.PORT), { transports: ["websocket"], perMessageDeflate: false, serveClient: false });
const key = process.env.JWT_SIGNING_KEY, b64 = (s) => Buffer.from(s, "base64url");
io.use((socket, next) => {
  const [h, p, s] = String(socket.handshake.auth?.token || "").split("."), claims = p && JSON.parse(b64(p));
  const ok = s && timingSafeEqual(b64(s), createHmac("sha256", key).update(`${h}.${p}`).digest()) && claims.exp * 1000 > Date.now();
  if (!ok) return next(new Error("unauthenticated"));
  socket.data.user = { userId: claims.user_id, name: claims.user_id };
  next();
});
const present = new Map(); // room -> userId -> sockets of that user in the room
io.on("connection", (socket) => {
  const { userId, name } = socket.data.user;
  socket.on("join-live-session", ({ sessionId } = {}, ack) => {
    const room = `session-${sessionId}`, users = present.get(room) || present.set(room, new Map()).get(room);
    if (!socket.rooms.has(room)) {
      socket.join(room);
      users.set(userId, (users.get(userId) || 0) + 1);
      if (users.get(userId) === 1) socket.to(room).emit("session-participant-joined", { sessionId, userId, name });
    }
    if (typeof ack === "function") ack({ sessionId, room, activeAttendees: users.size });
  });
  socket.on("disconnecting", () => {
    for (const room of socket.rooms) {
      const users = present.get(room), left = users && users.get(userId) - 1;
      if (!users) continue;
      if (left) users.set(userId, left);
      else { users.delete(userId); socket.to(room).emit("session-participant-left", { sessionId: room.slice(8), userId, name }); }
    }
  });
  socket.on("session-message", ({ sessionId, message } = {}, ack) => {
    const sent = { id: `${Date.now()}-${Math.random()}`, sessionId, userId, name, message, sentAt: new Date().toISOString() };
    io.to(`session-${sessionId}`).emit("session-new-message", sent);
    if (typeof ack === "function") ack({ id: sent.id, sessionId, sentAt: sent.sentAt });
  });
});
console.log(`socket.io ${require("socket.io/package.json").version} on ${process.env.PORT}`);
