"""The Janus event handler's endpoint: media-path evidence (``/api/v1/media/janus/events``).

Janus's ``sampleevh`` posts its event batches here with HTTP Basic credentials (user ``janus``,
password ``LEXLOCI_JANUS_EVENT_TOKEN``). A batch without them is refused before it is read: an
unauthenticated event could otherwise name any address as anyone's media path.

For each ICE selected pair the batch reports, the participant it belongs to (through its Janus
token) is decided again with the pair's remote address as media-path evidence
(``MeetingService.update_evidence``), and a resulting removal is enforced at once
(``LiveMeetings.apply_outcome``) — the policy engine's rule is that a participant whose media
path ends inside a restricted jurisdiction is inside it.
"""

from __future__ import annotations

import json
import logging
from functools import partial

from anyio import to_thread
from fastapi import APIRouter, Request, Response

from lexloci.api.deps import container_of
from lexloci.errors import InvalidInput, NotFound, Unauthenticated
from lexloci.media.janus import JanusMediaPlane

router = APIRouter(tags=["media"])

log = logging.getLogger("lexloci.api.media")


@router.post(
    "/media/janus/events",
    status_code=204,
    summary="Janus event handler batches (media-path evidence)",
    responses={401: {"description": "missing or wrong event handler credentials"}},
)
async def janus_events(request: Request) -> Response:
    container = container_of(request)
    plane = container.media
    if not isinstance(plane, JanusMediaPlane):
        raise NotFound("this node does not use the Janus media plane")
    if not plane.events_authenticated(request.headers.get("authorization")):
        # Never the header itself in the log: it carries the secret when it is merely wrong.
        log.warning("refused a Janus event batch without valid credentials")
        raise Unauthenticated("Janus events need the event handler's credentials")
    try:
        payload = json.loads(await request.body())
    except ValueError:
        raise InvalidInput("the event batch is not JSON") from None
    for path in await plane.ingest(payload):
        try:
            outcome = await to_thread.run_sync(
                partial(
                    container.meetings.update_evidence,
                    path.participant_id,
                    media_ip=path.address,
                )
            )
        except NotFound:
            continue  # left, removed, or served by another node meanwhile
        except InvalidInput as exc:
            log.warning("media path of %s not usable: %s", path.participant_id, exc.message)
            continue
        await container.live.apply_outcome(outcome)
    return Response(status_code=204)
