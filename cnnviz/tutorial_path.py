"""The tutorial *Basic CNN* section by section, each of its 20 figures (Hình 1-20) with the live
view of this app that reproduces it: the data behind the Tutorial page (pages/01_tutorial.py).

Pure data: no Streamlit. Captions and sentences are English marked with ``N_`` (translated where
they are shown); each link is a page script and the query parameters of docs/links.md, to which
:func:`query_params` adds the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnviz.i18n import N_

OVERVIEW = "pages/0_overview.py"
DRAW = "pages/1_draw_predict.py"
CONV = "pages/2_convolution.py"
POOL = "pages/3_pooling.py"
SOFTMAX = "pages/4_softmax_backprop.py"
TRAIN = "pages/5_train_live.py"
WHY = "pages/6_why_convolution.py"


@dataclass(frozen=True)
class Link:
    page: str  # the page script, as in cnnviz.ui.registry.PAGES
    label: str  # what the view shows, N_ (the page's name is put in front where it is shown)
    params: dict[str, str] = field(default_factory=dict)  # docs/links.md, without lang


@dataclass(frozen=True)
class Figure:
    number: int  # Hình n of the tutorial
    caption: str  # the tutorial's caption, N_
    text: str  # what it shows and where to see it live, N_
    links: tuple[Link, ...]


@dataclass(frozen=True)
class Section:
    title: str  # N_
    text: str  # the tutorial's section in two or three sentences, N_
    figures: tuple[Figure, ...] = ()
    links: tuple[Link, ...] = ()
    sub: bool = False  # a lettered idea inside "5. Key ideas" (a smaller heading)


def _conv(label: str, pos: str | None = None, **params: str) -> Link:
    return Link(CONV, label, {**params, **({"pos": pos} if pos else {})})


TUTORIAL_4X4 = {"input": "tutorial", "filter": "vertical-sobel", "padding": "valid"}
DIGIT_SOBEL = {"input": "mnist:0", "filter": "vertical-sobel", "padding": "valid"}
TEST_DIGIT = {"input": "test:0", "model": "tutorial"}
MNIST_COUNT = {"h": "28", "w": "28", "c": "1", "f": "8", "k": "3"}

SECTIONS: tuple[Section, ...] = (
    Section(
        N_("1. A normal neural network on images"),
        N_(
            "Every pixel is a feature: a 1000×1000 image has 1,000,000 of them. If each neuron of "
            "a fully-connected layer of 1,000,000 neurons sees every pixel, that is 10¹² "
            "parameters: too much memory and computation, and the model overfits."
        ),
        links=(
            Link(
                WHY,
                N_("the 1000×1000 image, 10¹² weights"),
                {"h": "1000", "w": "1000", "c": "1", "f": "1", "k": "3"},
            ),
        ),
    ),
    Section(
        N_("2. How does a CNN work?"),
        N_(
            "Two properties of images: **feature localization** (a pixel is related to the pixels "
            "around it) and **feature independence of location** (a feature means the same "
            "wherever it is). A CNN uses both: locally connected layers with shared parameters."
        ),
        figures=(
            Figure(
                1,
                N_("Locally connected layer"),
                N_(
                    "Each node of the first hidden layer is connected to a small patch of the "
                    "image, not to the whole image: far fewer connections. Why convolution counts "
                    "the weights of a fully connected, a locally connected and a convolutional "
                    "layer on a 28×28 digit."
                ),
                (Link(WHY, N_("28×28, 8 feature maps, 3×3 filters"), MNIST_COUNT),),
            ),
            Figure(
                2,
                N_("Shared parameters"),
                N_(
                    "Finding a feature works the same way everywhere, so every position shares "
                    "one set of parameters (one filter). The same page shows the result: shift "
                    "the digit and its Sobel feature maps shift with it."
                ),
                (
                    Link(WHY, N_("the weight count"), MNIST_COUNT),
                    Link(WHY, N_("shift the digit 6 right, 2 down"), {"dx": "6", "dy": "2"}),
                ),
            ),
        ),
    ),
    Section(
        N_("3. The main parts of a CNN"),
        N_(
            "**Convolution** (filters moving over the image with a preset step, the stride), "
            "**pooling** (the max or the average of each window) and a **fully-connected** layer "
            "on the flattened last feature maps, which gives the output."
        ),
        links=(
            _conv(N_("stride 2 on a digit"), **DIGIT_SOBEL, stride="2"),
            Link(SOFTMAX, N_("the layers one after another"), TEST_DIGIT),
        ),
    ),
    Section(
        N_("4. The dataset: MNIST"),
        N_(
            "Handwritten digits to sort into 10 classes. Each image is 28×28 grey pixels with the "
            "digit in the centre; flattened it is a vector of 28 × 28 = 784 numbers."
        ),
        figures=(
            Figure(
                3,
                N_("The MNIST dataset"),
                N_(
                    "Examples of the handwritten digits. Open MNIST test digit 0 on Draw & "
                    "predict: the 28×28 image the network sees, its prediction and its feature "
                    "maps."
                ),
                (Link(DRAW, N_("MNIST test digit 0"), TEST_DIGIT),),
            ),
        ),
    ),
    Section(
        N_("5. Key ideas"),
        N_(
            "Convolution, filters that find edges, padding, the conv layer, pooling and softmax: "
            "the tutorial works each one out by hand."
        ),
    ),
    Section(
        N_("(a) Convolution"),
        N_(
            "A filter is a small 2-D matrix of numbers. Put it on the image at one position, "
            "multiply each pixel by the filter value above it (element-wise), add the products: "
            "that sum is the destination pixel of the output image. Repeat at every position."
        ),
        sub=True,
        figures=(
            Figure(
                4,
                N_("A 3×3 filter"),
                N_(
                    "The filter [[−1, 0, 1], [−2, 0, 2], [−1, 0, 1]], the vertical Sobel filter. "
                    "The Convolution page draws it as a 3×3 grid beside the input."
                ),
                (_conv(N_("the tutorial's filter"), **TUTORIAL_4X4),),
            ),
            Figure(
                5,
                N_("A 4×4 image and a 3×3 filter"),
                N_(
                    "The small example: a 4×4 grey image (0 black … 255 white) and the filter. "
                    "The Convolution page opens on exactly this image and filter."
                ),
                (_conv(N_("the 4×4 example"), "0,0", **TUTORIAL_4X4),),
            ),
            Figure(
                6,
                N_("The 2×2 output image"),
                N_(
                    "A 3×3 filter fits in a 4×4 image at 2 × 2 positions, so the output is 2×2. "
                    "The page shows it beside the input, one cell per position."
                ),
                (_conv(N_("the 2×2 output"), "0,0", **TUTORIAL_4X4),),
            ),
            Figure(
                7,
                N_("Input and output"),
                N_(
                    "The filter put on the top-left corner of the input image: the orange box "
                    "on the page, at output position (0, 0)."
                ),
                (_conv(N_("position (0, 0)"), "0,0", **TUTORIAL_4X4),),
            ),
            Figure(
                8,
                N_("Computing the value of one pixel of the output image"),
                N_(
                    "The table image value × filter value = result for the top-left position: "
                    "62 − 33 = 29. The page shows the same table for any position you choose."
                ),
                (_conv(N_("the table for (0, 0)"), "0,0", **TUTORIAL_4X4),),
            ),
            Figure(
                9,
                N_("The output image"),
                N_(
                    "The output [[29, −192], [?, ?]]: −192 is position (0, 1); the tutorial "
                    "leaves the bottom row to the reader. The app works it out: −35 and −22."
                ),
                (
                    _conv(N_("position (0, 1): −192"), "0,1", **TUTORIAL_4X4),
                    _conv(N_("position (1, 0)"), "1,0", **TUTORIAL_4X4),
                    _conv(N_("position (1, 1)"), "1,1", **TUTORIAL_4X4),
                ),
            ),
            Figure(
                10,
                N_("Convolution with a tensor and multiple features"),
                N_(
                    "A colour image is a 3-D tensor, so the filter is 3-D too; and to find several "
                    "features a layer learns several filters at once. The app's images are grey: "
                    "its Convolution page shows the several filters (the conv layer section); "
                    "Why convolution counts the weights of a 3-channel filter."
                ),
                (
                    _conv(N_("many filters on a digit"), **DIGIT_SOBEL),
                    Link(WHY, N_("3 channels"), {**MNIST_COUNT, "c": "3"}),
                ),
            ),
        ),
    ),
    Section(
        N_("(b) Filters in computer vision"),
        N_(
            "That filter is the vertical Sobel filter; there is also a horizontal one. Sobel "
            "filters are edge detectors: the output is bright where the input has vertical or "
            "horizontal edges, which makes the digit easier to recognise."
        ),
        sub=True,
        figures=(
            Figure(
                11,
                N_("Sobel filters"),
                N_(
                    "The vertical Sobel filter and the horizontal one (the same numbers turned a "
                    "quarter). Choose either on the Convolution page and slide it over a digit."
                ),
                (
                    _conv(N_("vertical Sobel on a digit"), **DIGIT_SOBEL),
                    _conv(
                        N_("horizontal Sobel on a digit"),
                        **{**DIGIT_SOBEL, "filter": "horizontal-sobel"},
                    ),  # fmt: skip
                ),
            ),
            Figure(
                12,
                N_("Sobel filters detect edges"),
                N_(
                    "A digit and its two Sobel outputs: vertical edges in one, horizontal edges in "
                    "the other. The Convolution page's edge section shows both maps and the edge "
                    "strength √(gx² + gy²)."
                ),
                (_conv(N_("the edges of a digit"), **DIGIT_SOBEL),),
            ),
        ),
    ),
    Section(
        N_("(c) Padding"),
        N_(
            "To keep the output as big as the input, add values around the border of the input "
            "image: zero, 255 or a mean. A 3×3 filter needs a border of 1 pixel: same padding; "
            "without it, valid padding."
        ),
        sub=True,
        figures=(
            Figure(
                13,
                N_("Same padding"),
                N_(
                    "The 4×4 example with a border of zeros, 6×6: the output is now 4×4, as big as "
                    "the input. The page draws the padded input with the original in a dashed box."
                ),
                (
                    _conv(
                        N_("same padding with zeros"),
                        "0,0",
                        **{**TUTORIAL_4X4, "padding": "same"},
                        pad="0",
                    ),
                ),
            ),
        ),
    ),
    Section(
        N_("(d) The conv layer"),
        N_(
            "A conv layer is a set of filters; its first setting is how many. The tutorial's "
            "network has one conv layer of 8 filters: a 28×28 input gives a 26×26×8 output "
            "volume (valid padding takes 2 pixels off each side length) and 3 × 3 × 8 = 72 "
            "parameters."
        ),
        sub=True,
        figures=(
            Figure(
                14,
                N_("Conv layer"),
                N_(
                    "8 filters on one 28×28 image make 8 maps of 26×26. The Convolution page's "
                    "conv layer section shows the 26×26×8 volume and its 72 parameters; Draw & "
                    "predict shows the 8 maps of the trained network."
                ),
                (
                    _conv(N_("8 filters on a digit"), **DIGIT_SOBEL),
                    Link(DRAW, N_("the trained network's 8 maps"), TEST_DIGIT),
                ),
            ),
        ),
    ),
    Section(
        N_("(e) Pooling"),
        N_(
            "Neighbouring outputs of a conv layer are nearly equal, so pooling keeps one value "
            "(max, min or average) per window. Max pooling with size 2 turns a 4×4 image into "
            "2×2: it divides the height and the width by the pool size."
        ),
        sub=True,
        figures=(
            Figure(
                15,
                N_("Max pooling with size 2×2"),
                N_(
                    "Each 2×2 window of a 4×4 image gives its largest value. Pooling steps "
                    "through the windows of a 4×4 example one by one."
                ),
                (
                    Link(
                        POOL,
                        N_("max, 2×2, the first window"),
                        {"input": "4x4", "mode": "max", "size": "2", "pos": "0,0"},
                    ),
                ),
            ),
            Figure(
                16,
                N_("Max pooling reduces the dimensions of a tensor"),
                N_(
                    "Pooling works on each feature map of the volume: height and width halve, the "
                    "number of maps stays. A 6×6 example on Pooling; in the trained network on "
                    "Draw & predict, 26×26×8 becomes 13×13×8."
                ),
                (
                    Link(POOL, N_("max, 2×2 on 6×6"), {"input": "6x6", "mode": "max", "size": "2"}),
                    Link(DRAW, N_("26×26×8 → 13×13×8"), TEST_DIGIT),
                ),
            ),
        ),
    ),
    Section(
        N_("(f) Softmax"),
        N_(
            "The last layer is a fully-connected (dense) layer with softmax as its activation: it "
            "turns the 10 outputs into probabilities. The digit with the highest one is the "
            "prediction."
        ),
        sub=True,
        figures=(
            Figure(
                17,
                N_("Softmax"),
                N_(
                    "The network's 10 outputs turned into probabilities that add up to 1. "
                    "Softmax & backprop shows the logits, the probabilities and the loss for one "
                    "digit, then the gradients of one training step."
                ),
                (Link(SOFTMAX, N_("MNIST test digit 0"), TEST_DIGIT),),
            ),
        ),
    ),
    Section(
        N_("Part II: Implementing a CNN in Python with Keras"),
        N_(
            "The same network trained with Keras: Conv2D(8, 3, no bias) → MaxPooling2D(2) → "
            "Flatten → Dense(10, softmax), SGD with learning rate 0.001, batch size 1, 30 epochs, "
            "inputs scaled to x/255 − 0.5. cnnviz runs the same script with its own imports."
        ),
        figures=(
            Figure(
                18,
                N_("The MNIST dataset loaded with Keras"),
                N_(
                    "The shapes the script prints, Train: X=(60000, 28, 28) and Test: "
                    "X=(10000, 28, 28), and the first 9 training images: the Overview shows both."
                ),
                (Link(OVERVIEW, N_("the shapes and the first 9 images")),),
            ),
            Figure(
                19,
                N_("Results of training the model with Keras"),
                N_(
                    "The epoch log: loss, accuracy and val_loss for each epoch. Train live with "
                    "the tutorial's recipe prints its log line by line in the same format; the "
                    "quick demo is done in seconds."
                ),
                (
                    Link(TRAIN, N_("the tutorial's recipe"), {"preset": "tutorial"}),
                    Link(TRAIN, N_("the quick demo"), {"preset": "quick-demo"}),
                ),
            ),
            Figure(
                20,
                N_("Comparing the loss on training and validation"),
                N_(
                    "loss and val_loss per epoch: the training loss keeps falling while the "
                    "validation loss levels off. Train live draws both curves as the epochs end."
                ),
                (Link(TRAIN, N_("the tutorial's recipe"), {"preset": "tutorial"}),),
            ),
        ),
    ),
)


def figures() -> list[Figure]:
    """The 20 figures in the tutorial's order."""
    return [figure for section in SECTIONS for figure in section.figures]


def links() -> list[Link]:
    """Every link of the page, in order (sections' own links first in each section)."""
    return [
        link
        for section in SECTIONS
        for link in (*section.links, *(li for f in section.figures for li in f.links))
    ]


def query_params(link: Link, lang: str) -> dict[str, str]:
    """The link's parameters and the reader's language (``lang``), so it opens as they read."""
    return {**link.params, "lang": lang}
