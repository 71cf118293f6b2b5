/*
 * volume.c - volume mounts (see validate_volume.h).
 */
#include "bbs/validate_volume.h"
#include "validate_int.h"

int bbs_validate_volume_mount(const Models__VolumeMount *v, struct bbs_problems *p)
{
    int n = 0;

    if (empty(v->driver)) {
        n += bbs_problems_note(p, "invalid volume_mount driver");
    }
    if (!streq(v->mode, "r") && !streq(v->mode, "rw")) {
        n += bbs_problems_note(p, "invalid volume_mount mode");
    }
    if (v->shared != NULL && empty(v->shared->volume_id)) {
        n += bbs_problems_note(p, "invalid volume_mount volume id");
    }
    if (v->dedicated != NULL && empty(v->dedicated->mounter_id)) {
        n += bbs_problems_note(p, "invalid volume_mount mounter id");
    }
    return n;
}

int bbs_validate_volume_mounts(Models__VolumeMount *const *mounts, size_t n, struct bbs_problems *p)
{
    int k = 0;

    for (size_t i = 0; i < n; i++) {
        if (mounts[i] != NULL) {
            k += bbs_validate_volume_mount(mounts[i], p);
        }
    }
    return k;
}
