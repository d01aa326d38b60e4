// The body of Kratos's web hooks to Hera (POST <Hera>/hooks/kratos/…):
// what Hera records in each account's activity after a sign-in, a
// sign-up, a settings change, a recovery or a verification
// (docs/security-centre.md). It sends only what Hera needs:
//
//   - the flow's ID, type and method;
//   - the identity's ID and its verifiable addresses (value, channel,
//     verified) — no other trait;
//   - the session's ID, assurance level and how it was authenticated
//     (method, provider, when) — nothing of the credentials, which Kratos
//     leaves out of the identity anyway;
//   - the client's address and User-Agent as Kratos received them (from
//     Hera's proxy), for a flow Hera did not see — no cookies, no other
//     header.
//
// Hera reads it strictly: change it only with Hera (internal/events).
function(ctx)
  local has(o, k) = std.isObject(o) && std.objectHas(o, k) && o[k] != null;
  local str(o, k) = if has(o, k) then std.toString(o[k]) else '';
  local header(name) =
    if has(ctx, 'request_headers') && has(ctx.request_headers, name) && std.length(ctx.request_headers[name]) > 0
    then ctx.request_headers[name][0] else '';
  {
    flow: {
      id: ctx.flow.id,
      type: str(ctx.flow, 'type'),
      active: str(ctx.flow, 'active'),
    },
    identity: if has(ctx, 'identity') then {
      id: ctx.identity.id,
      addresses: [
        { value: str(a, 'value'), via: str(a, 'via'), verified: has(a, 'verified') && a.verified }
        for a in (if has(ctx.identity, 'verifiable_addresses') then ctx.identity.verifiable_addresses else [])
      ],
    } else null,
    session: if has(ctx, 'session') then {
      id: ctx.session.id,
      aal: str(ctx.session, 'authenticator_assurance_level'),
      methods: [
        { method: str(m, 'method'), aal: str(m, 'aal'), provider: str(m, 'provider'), completed_at: if has(m, 'completed_at') then m.completed_at else null }
        for m in (if has(ctx.session, 'authentication_methods') then ctx.session.authentication_methods else [])
      ],
    } else null,
    client: {
      ip: header('True-Client-Ip'),
      user_agent: header('User-Agent'),
    },
  }
