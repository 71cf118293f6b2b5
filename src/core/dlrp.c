/*
 * dlrp.c - the rules of a DesiredLRP update (see dlrp.h).
 */
#include "bbs/dlrp.h"

int bbs_dlrp_apply_update(struct bbs_arena *arena, const struct bbs_dlrp_row *before,
                          const Models__DesiredLRPUpdate *u,
                          const struct bbs_dlrp_update_codec *codec, struct bbs_dlrp_row *after,
                          struct bbs_error *err)
{
    *after = *before;
    /* The tag index moves on every accepted update, even an empty one. */
    after->mod_index = before->mod_index + 1;
    if (u->optional_instances_case == MODELS__DESIRED_LRPUPDATE__OPTIONAL_INSTANCES_INSTANCES) {
        after->instances = u->instances;
    }
    if (u->optional_annotation_case == MODELS__DESIRED_LRPUPDATE__OPTIONAL_ANNOTATION_ANNOTATION) {
        after->annotation = u->annotation != NULL ? u->annotation : "";
    }
    /* Invalid JSON in a route value fails here, before anything is
     * written: the store rolls back, keeping the tag index and the other
     * fields (5.4). */
    if (u->routes != NULL && codec->encode_routes(arena, u->routes, &after->routes, err) != 0) {
        return -1;
    }
    /* An empty map cannot be told from an absent one: tags cannot be
     * cleared, only replaced. */
    if (u->n_metric_tags > 0) {
        after->metric_tags = codec->encode_metric_tags(arena, u->metric_tags, u->n_metric_tags);
    }
    if ((u->optional_image_username_case ==
             MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_USERNAME_IMAGE_USERNAME ||
         u->optional_image_password_case ==
             MODELS__DESIRED_LRPUPDATE__OPTIONAL_IMAGE_PASSWORD_IMAGE_PASSWORD) &&
        codec->set_image_credentials(arena, &before->run_info, u, &after->run_info, err) != 0) {
        return -1;
    }
    return 0;
}
