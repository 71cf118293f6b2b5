/*
 * h_events.c - the event stream routes (reference 1.4, 2.10.3): subscribe
 * the request's stream to the hub (hub.h), resuming after Last-Event-ID.
 *
 * The front end has decoded the body as EventsByCellId (the task routes
 * read no body); it answers a decode failure with HTTP 500 and an empty
 * body, as upstream does, and queues the 200 with the SSE headers once
 * the handler succeeded.
 */
#include "bbs/events.h"
#include "bbs/hub.h"
#include "events.pb-c.h"
#include "handlers.h"
#include "stream.h"

static int sink_send(void *ctx, const void *p, size_t n, size_t max)
{
    return bbs_stream_send_bounded(ctx, p, n, max);
}

static void sink_end(void *ctx)
{
    bbs_stream_end(ctx);
}

static void sink_release(void *ctx)
{
    bbs_stream_unref(ctx);
}

static int subscribe(struct bbs_req *req, const ProtobufCMessage *msg, unsigned streams, int v0,
                     struct bbs_error *err)
{
    const Models__EventsByCellId *m = (const Models__EventsByCellId *)msg;
    struct bbs_hub_sink sink = {sink_send, sink_end, sink_release, req->stream};
    struct bbs_hub_sub_opts o = {0};

    o.streams = streams;
    o.v0 = v0;
    o.cell_id = m != NULL && m->cell_id != NULL ? m->cell_id : "";
    o.resume = bbs_sse_parse_last_id(req->last_event_id, &o.last_id);
    bbs_stream_ref(req->stream); /* the hub's, released through the sink */
    return bbs_hub_subscribe(req->ctx->hub, &sink, &o, err);
}

BBS_HANDLER(bbs_h_events_instances_r1)
{
    (void)resp;
    return subscribe(req, msg, BBS_EVENT_INSTANCE, 0, err);
}

BBS_HANDLER(bbs_h_events_instances)
{
    (void)resp;
    return subscribe(req, msg, BBS_EVENT_INSTANCE, 1, err);
}

BBS_HANDLER(bbs_h_events_groups_r1)
{
    (void)resp;
    return subscribe(req, msg, BBS_EVENT_GROUP, 0, err);
}

BBS_HANDLER(bbs_h_events_groups)
{
    (void)resp;
    return subscribe(req, msg, BBS_EVENT_GROUP, 1, err);
}

BBS_HANDLER(bbs_h_events_tasks_r1)
{
    (void)resp;
    return subscribe(req, msg, BBS_EVENT_TASK, 0, err);
}

BBS_HANDLER(bbs_h_events_tasks)
{
    (void)resp;
    return subscribe(req, msg, BBS_EVENT_TASK, 1, err);
}
