"""The app's pages, in one place: app.py builds the navigation from this list and the Overview
page its cards, so a page is added, renamed or re-iconed once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    path: str  # the script, relative to app.py
    title: str  # its name in the navigation and on its card
    icon: str  # a Material icon
    summary: str  # one sentence for its card on the Overview page ("" for the Overview)


PAGES = [
    PageInfo("pages/0_overview.py", "Overview", ":material/home:", ""),
    PageInfo(
        "pages/1_draw_predict.py",
        "Draw & predict",
        ":material/draw:",
        "Draw or upload a digit, see what the network predicts and the feature maps it computes.",
    ),
    PageInfo(
        "pages/2_convolution.py",
        "Convolution",
        ":material/blur_on:",
        "Slide a 3×3 filter over an image, one window at a time: the tutorial's 29 and −192.",
    ),
    PageInfo(
        "pages/3_pooling.py",
        "Pooling",
        ":material/grid_view:",
        "Max, average and min pooling window by window, and where the gradient goes back.",
    ),
    PageInfo(
        "pages/4_softmax_backprop.py",
        "Softmax & backprop",
        ":material/functions:",
        "Logits → probabilities → loss, then the gradients of one training step.",
    ),
    PageInfo(
        "pages/5_train_live.py",
        "Train live",
        ":material/monitoring:",
        "Train the tutorial's network in your browser and watch loss and filters change.",
    ),
    PageInfo(
        "pages/6_why_convolution.py",
        "Why convolution",
        ":material/lightbulb:",
        "Count the weights of dense vs convolutional layers, and shift a digit.",
    ),
]
