/*
 * validate_image.h - image layers and image registry credentials (pure
 * core, reference 2.8, 5.1 #22, #25, #26), shared by DesiredLRP and
 * TaskDefinition.
 *
 * Every function appends its problems to `p` in upstream order and
 * returns how many; `p` may be NULL (count only). Inputs are borrowed.
 */
#ifndef BBS_VALIDATE_IMAGE_H
#define BBS_VALIDATE_IMAGE_H

#include <stddef.h>

#include "bbs/validate_problems.h"
#include "image_layer.pb-c.h"

/* One ImageLayer, without a header: url, destination, types, digest. */
int bbs_validate_image_layer(const Models__ImageLayer *l, struct bbs_problems *p);

/*
 * upstream's validateImageLayers: for each layer with problems,
 * "Invalid field: image_layer" and then its problems (NULL elements
 * skipped); then, when any layer is EXCLUSIVE and `legacy_download_user`
 * is empty (or NULL), "Invalid field: legacy_download_user".
 */
int bbs_validate_image_layers(Models__ImageLayer *const *layers, size_t n,
                              const char *legacy_download_user, struct bbs_problems *p);

/*
 * Username and password come together: a password alone is
 * "Invalid field: image_username", a username alone
 * "Invalid field: image_password". Empty and NULL are the same here (the
 * DesiredLRPUpdate rule, by oneof presence, is its own).
 */
int bbs_validate_image_credentials(const char *username, const char *password,
                                   struct bbs_problems *p);

#endif /* BBS_VALIDATE_IMAGE_H */
