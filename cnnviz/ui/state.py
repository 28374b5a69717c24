"""Every ``st.session_state`` key the app uses, in one place.

Pages import these names instead of writing string literals, so two pages can never disagree
about where the current input or model lives.
"""

# The current input: whatever the user gave last (drawing, upload or MNIST sample).
CURRENT_IMAGE = "cnnviz.current_image"  # float32 (28, 28) in [0, 1], MNIST-like (ink bright)
CURRENT_IMAGE_SOURCE = "cnnviz.current_image_source"  # short text: "drawing", "upload: a.png", ...
CURRENT_LABEL = "cnnviz.current_label"  # int or None: the true label when known (MNIST sample)
# How a drawing or upload became the current input: a list of (title, uint8 (h, w) or
# (h, w, 3) thumbnail, note), the original first; None for an MNIST digit (already 28 x 28).
CURRENT_STEPS = "cnnviz.current_steps"

# The current model: which one the pickers chose, and the session's own models.
CURRENT_MODEL_CHOICE = "cnnviz.current_model_choice"  # a key of the model picker's options
SESSION_MODEL = "cnnviz.session_model"  # cnnviz.nn.Sequential trained in this session, or None
UPLOADED_MODEL = "cnnviz.uploaded_model"  # cnnviz.nn.Sequential loaded from an uploaded .npz

# Hand-over between the convolution and pooling pages.
LAST_CONV_OUTPUT = "cnnviz.last_conv_output"  # float (H, W) or (H, W, C): page 2's output
LAST_CONV_DESCRIPTION = "cnnviz.last_conv_description"  # e.g. "vertical Sobel, same padding"

# The session's background training worker (cnnviz.training.TrainingWorker).
TRAINER = "cnnviz.trainer"

# The Train live page's last settings (a dict of its widget values), kept across page changes.
TRAIN_SETTINGS = "cnnviz.train_settings"

# The Train live page's widgets (their keys are also what its settings form restores), its last
# error, and its figure cache.
TRAIN_PRESET = "train_preset"  # a label of cnnviz.ui.train_settings.PRESET_LABELS, or "Custom"
TRAIN_ERROR = "train_error"  # the InputError sentence of the last Start that failed
TRAIN_FIGURES = "train_figures"  # the live view's slow figures and the snapshot they show

# The session's language ("vi" or "en"), see cnnviz.ui.language.
LANGUAGE = "cnnviz.language"

# Presenter view (True or False), see cnnviz.ui.presenter.
PRESENT = "cnnviz.present"

# The sidebar's Join / share was clicked: open its dialog in this run (cnnviz.ui.share).
SHARE_ASKED = "cnnviz.share_asked"

# A lecture hall (deploy/hall.py): this session was checked for a browser that came back from a
# replica that stopped, and the page where that is being said (cnnviz.ui.hall).
HALL_CHECKED = "cnnviz.hall.checked"
HALL_MOVED = "cnnviz.hall.moved"

# Class mode (pages/7_class.py, cnnviz.ui.classroom): the room this session is in, the host
# token when it is the lecturer's (never shown to a student), the student's drawing waiting to
# be sent, their sends (for the rate limit) and last result, the host's gallery cache and the
# background fine-tuning.
CLASS_ROOM = "cnnviz.class.room"  # the room's 6-character code, or absent
CLASS_HOST = "cnnviz.class.host"  # the host token of CLASS_ROOM, or absent (a student)
CLASS_DRAWING = "cnnviz.class.drawing"  # float32 (28, 28) in [0, 1]: the drawing to send
CLASS_SENDS = "cnnviz.class.sends"  # {room code: [time.monotonic() of each send]}
CLASS_LAST = "cnnviz.class.last"  # the student's last sent drawing and its prediction
CLASS_GALLERY = "cnnviz.class.gallery"  # the host's submissions and predictions so far
CLASS_TUNING = "cnnviz.class.tuning"  # cnnviz.ui.classroom.Tuning: fine-tuning in the background
CLASS_SAID = "cnnviz.class.said"  # {place on the page: (kind, sentence)} to show once
