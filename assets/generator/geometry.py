"""The fixed geometry every family of the default pack agrees on (canvas units, 500 x 500).

This is the contract that makes any random combination line up: all seven face shapes share the
same cranium above the eye line (so every hairstyle fits every face), the eyes, brows, nose and
mouth sit at fixed points (so glasses and beards can be drawn once per face outline), and the
lower face (cheeks, jaw, chin) is the only part that varies with face_shape and chin_length.
"""
from __future__ import annotations

CANVAS = 500
CX = 250.0                       # vertical axis of symmetry

# Cranium, identical for every face shape above EYE_Y: an ellipse arc.
CRANIUM_CY = 258.0               # centre of the cranium ellipse
CRANIUM_RX = 118.0               # half-width of the head at the eye line
CRANIUM_RY = 146.0               # top of the skin at CRANIUM_CY - CRANIUM_RY = 112
SKULL_TOP = CRANIUM_CY - CRANIUM_RY

# Features (landmarks are exact: the renderer writes these for every cartoon).
EYE_Y = 252.0
EYE_LEFT = (197.0, EYE_Y)        # left of the image; iris centre
EYE_RIGHT = (303.0, EYE_Y)
EYE_HALF_W = 30.0                # the largest eye artwork spans at most +-EYE_HALF_W x +-EYE_HALF_H
EYE_HALF_H = 22.0
BROW_Y = 212.0                   # eyebrow centre line before the eye_eyebrow_distance offset
NOSE_TIP = (250.0, 306.0)
MOUTH = (250.0, 350.0)

# Chin bottoms per chin_length (short, medium, long) before face-shape adjustments.
CHIN_Y = (404.0, 420.0, 436.0)

# Ears sit on the sides of the cranium between these heights.
EAR_TOP_Y = 236.0
EAR_BOTTOM_Y = 300.0

# Hairstyles must leave the irises visible: the front layer may not cover this band between the
# eyes' outer corners, except styles that are deliberate fringes (declared as such by the hair code).
IRIS_BAND = (EYE_Y - 14.0, EYE_Y + 14.0)
