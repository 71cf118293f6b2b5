/*
 * api_events.c - `lrp-events` and `task-events`: subscribe to the event
 * streams as cfdot does and print each event as {"type":..,"data":..} on
 * one line, the data being the event message as Go's encoding/json writes
 * it.
 *
 * lrp-events reads /v1/events/lrp_instances.r1 (every desired, instance
 * and crash event) and, unless -x, also the deprecated group stream
 * /v1/events.r1, from which only actual_lrp_created/changed/removed are
 * printed (cfdot's choice: the rest would be printed twice). Both are
 * read at once; the command runs until the streams end or the user stops
 * it.
 */
#include <stdio.h>
#include <string.h>

#include "events.pb-c.h"

#include "api.h"

static const struct {
    const char *name;
    const ProtobufCMessageDescriptor *desc;
} event_types[] = {
    {"desired_lrp_created", &models__desired_lrpcreated_event__descriptor},
    {"desired_lrp_changed", &models__desired_lrpchanged_event__descriptor},
    {"desired_lrp_removed", &models__desired_lrpremoved_event__descriptor},
    {"actual_lrp_instance_created", &models__actual_lrpinstance_created_event__descriptor},
    {"actual_lrp_instance_changed", &models__actual_lrpinstance_changed_event__descriptor},
    {"actual_lrp_instance_removed", &models__actual_lrpinstance_removed_event__descriptor},
    {"actual_lrp_crashed", &models__actual_lrpcrashed_event__descriptor},
    {"actual_lrp_created", &models__actual_lrpcreated_event__descriptor},
    {"actual_lrp_changed", &models__actual_lrpchanged_event__descriptor},
    {"actual_lrp_removed", &models__actual_lrpremoved_event__descriptor},
    {"task_created", &models__task_created_event__descriptor},
    {"task_changed", &models__task_changed_event__descriptor},
    {"task_removed", &models__task_removed_event__descriptor},
};

static const ProtobufCMessageDescriptor *event_desc(const char *name)
{
    for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++) {
        if (strcmp(event_types[i].name, name) == 0) {
            return event_types[i].desc;
        }
    }
    return NULL;
}

/* Which stream an event came from: the group stream's index in lrp-events. */
struct sink {
    int group_stream; /* -1: none */
};

static int is_group_event(const char *name)
{
    return strcmp(name, "actual_lrp_created") == 0 || strcmp(name, "actual_lrp_changed") == 0 ||
           strcmp(name, "actual_lrp_removed") == 0;
}

static void on_event(void *ud, int stream, const char *name, const uint8_t *data, size_t len)
{
    const struct sink *s = ud;
    const ProtobufCMessageDescriptor *d = event_desc(name);
    ProtobufCMessage *m = NULL;

    if (stream == s->group_stream && !is_group_event(name)) {
        return;
    }
    if (d == NULL) {
        return; /* a name this client does not know: skipped, as upstream's clients do */
    }
    m = protobuf_c_message_unpack(d, NULL, len, data);
    if (m == NULL) {
        fprintf(stderr, "bbsctl: event %s does not decode as %s; skipped\n", name, d->name);
        return;
    }
    api_print_event(name, m);
    protobuf_c_message_free_unpacked(m, NULL);
}

int bbsctl_cmd_lrp_events(int argc, char **argv)
{
    struct api_flag flags[] = {
        API_FLAG_DEF("cell-id", 'c', API_FLAG_STRING, "retrieve only events for the given cell id"),
        API_FLAG_DEF("exclude-actual-lrp-groups", 'x', API_FLAG_BOOL,
                     "exclude actual lrp group events"),
    };
    struct api_cmd c = API_CMD_FLAGS("lrp-events", "lrp-events", "Subscribe to BBS LRP events",
                                     API_COMMON_BBS, flags, sizeof(flags) / sizeof(flags[0]));
    Models__EventsByCellId body = MODELS__EVENTS_BY_CELL_ID__INIT;
    struct bbsctl_stream_spec specs[2];
    struct sink sink = {-1};
    struct bbsctl_failure f;
    int n = 0;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0) {
        goto out;
    }
    if (c.nargs > 0) {
        rc = api_invalid(&c, "Too many arguments specified");
        goto out;
    }
    body.cell_id = (char *)(flags[0].s != NULL ? flags[0].s : "");
    if (!flags[1].b) {
        fputs("Event types \"actual_lrp_created\", \"actual_lrp_changed\" and "
              "\"actual_lrp_removed\" are deprecated. Use \"--exclude-actual-lrp-groups\" flag "
              "to exclude them.\n",
              stderr);
        specs[n] = (struct bbsctl_stream_spec){"GET", "/v1/events.r1", &body.base};
        sink.group_stream = n++;
    }
    specs[n++] = (struct bbsctl_stream_spec){"POST", "/v1/events/lrp_instances.r1", &body.base};
    rc = bbsctl_streams_run(&c.target, specs, n, on_event, &sink, &f) == 0 ? 0 : api_fail(&f);

out:
    api_done(&c);
    return rc < 0 ? 0 : rc;
}

int bbsctl_cmd_task_events(int argc, char **argv)
{
    struct api_cmd c =
        API_CMD("task-events", "task-events", "Subscribe to BBS Task events", API_COMMON_BBS);
    Models__EventsByCellId body = MODELS__EVENTS_BY_CELL_ID__INIT;
    struct bbsctl_stream_spec spec = {"POST", "/v1/events/tasks.r1", &body.base};
    struct sink sink = {-1};
    struct bbsctl_failure f;
    int rc = api_parse(&c, argc, argv);

    if (rc >= 0) {
        goto out;
    }
    if (c.nargs > 0) {
        rc = api_invalid(&c, "Too many arguments specified");
        goto out;
    }
    rc = bbsctl_streams_run(&c.target, &spec, 1, on_event, &sink, &f) == 0 ? 0 : api_fail(&f);

out:
    api_done(&c);
    return rc < 0 ? 0 : rc;
}
