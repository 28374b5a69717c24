"""cnnviz: a visual explorer for convolutional neural networks, on a small NumPy engine.

The library has no Streamlit import outside ``cnnviz.ui``:

- ``cnnviz.data``: IDX reader, bundled MNIST (``mnist.load_data()``), other IDX datasets.
- ``cnnviz.ops`` / ``cnnviz.filters``: teaching operations (conv2d, pad, pool2d, softmax) with
  per-window traces, and named 3x3 kernels.
- ``cnnviz.preprocess``: any drawing or upload -> the 28x28 image MNIST would have made.
- ``cnnviz.nn``: a Keras-style CNN engine (Sequential, Conv2D, MaxPooling2D, Dense, SGD, Adam ...).
"""

__version__ = "0.1.0"
