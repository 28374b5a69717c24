"""The app's pages, in one place: app.py builds the navigation from this list and the Overview
page its cards, so a page is added, renamed or re-iconed once."""

from __future__ import annotations

from dataclasses import dataclass

from cnnviz.i18n import N_


@dataclass(frozen=True)
class PageInfo:
    path: str  # the script, relative to app.py
    title: str  # its name in the navigation and on its card
    icon: str  # a Material icon
    summary: str  # one sentence for its card on the Overview page ("" for the Overview)

    @property
    def url_path(self) -> str:
        """The page's address, the same in every language: "draw_predict" for 1_draw_predict."""
        return self.path.rsplit("/", 1)[-1].removesuffix(".py").split("_", 1)[1]


PAGES = [
    PageInfo("pages/0_overview.py", N_("Overview"), ":material/home:", ""),
    PageInfo(
        "pages/01_tutorial.py",
        N_("Tutorial"),
        ":material/menu_book:",
        N_("The tutorial's 20 figures, each with a link to the live view that reproduces it."),
    ),
    PageInfo(
        "pages/1_draw_predict.py",
        N_("Draw & predict"),
        ":material/draw:",
        N_("Draw or upload a digit, see what the network predicts and the feature maps it makes."),
    ),
    PageInfo(
        "pages/2_convolution.py",
        N_("Convolution"),
        ":material/blur_on:",
        N_("Slide a 3×3 filter over an image, one window at a time: the tutorial's 29 and −192."),
    ),
    PageInfo(
        "pages/3_pooling.py",
        N_("Pooling"),
        ":material/grid_view:",
        N_("Max, average and min pooling window by window, and where the gradient goes back."),
    ),
    PageInfo(
        "pages/4_softmax_backprop.py",
        N_("Softmax & backprop"),
        ":material/functions:",
        N_("Logits → probabilities → loss, then the gradients of one training step."),
    ),
    PageInfo(
        "pages/5_train_live.py",
        N_("Train live"),
        ":material/monitoring:",
        N_("Train the tutorial's network in your browser and watch loss and filters change."),
    ),
    PageInfo(
        "pages/6_why_convolution.py",
        N_("Why convolution"),
        ":material/lightbulb:",
        N_("Count the weights of dense vs convolutional layers, and shift a digit."),
    ),
    PageInfo(
        "pages/7_class.py",
        N_("Class"),
        ":material/groups:",
        N_(
            "Everyone draws a digit on a phone; see which ones fool the network, then let it learn."
        ),
    ),
]
