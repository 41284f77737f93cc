"""The one catalogue of snncore's optional plugins (data only).

This module imports nothing, so that tools can read it without importing torch or snncore, e.g.
``noxfile.py`` loads it by file path (``runpy.run_path("snncore/_catalogue.py")["PLUGINS"]``).
Inside snncore it feeds the registry's install hints (an unknown neuron name that a known plugin
provides says what to install), ``snncore.viz``'s hint and ``snncore.<ClassName>`` for the
classes of optional neuron plugins.

Each plugin entry:

``distribution``  the installable distribution (``pip install <distribution>``)
``package``       its import package
``extra``         extra of the ``snncore`` distribution that installs it
``folder``        its source folder in the snncore repository
``tests``         its test folder in the snncore repository
``summary``       one line
``provides``      registry kind -> names it registers (for install hints)
``classes``       public classes re-exported as ``snncore.<ClassName>`` once installed
"""

__all__ = ["PLUGINS", "by_extra", "install_command"]

PLUGINS = (
    {
        "distribution": "snn-neurons-extra",
        "package": "snn_neurons_extra",
        "extra": "neurons-extra",
        "folder": "plugins/snn_neurons_extra",
        "tests": "tests/neurons_extra",
        "summary": "more neuron families: synaptic, alpha, recurrent, LSTM, parallel, IF, ...",
        "provides": {
            "neuron": (
                "synaptic", "alpha", "lapicque", "rleaky", "rsynaptic", "slstm", "sconv2dlstm",
                "leaky_parallel", "state_leaky", "linear_leaky", "delta_leaky", "if", "li",
                "alif", "izhikevich", "adex", "batchnorm_tt", "graded_spikes",
                "associative_leaky",
            ),
        },
        "classes": (
            "Synaptic", "SynapticState", "Alpha", "AlphaState", "Lapicque", "LapicqueState",
            "RLeaky", "RLeakyState", "RSynaptic", "RSynapticState", "SLSTM", "SLSTMState",
            "SConv2dLSTM", "SConv2dLSTMState", "LeakyParallel", "StateLeaky", "LinearLeaky",
            "DeltaLeaky", "IF", "LI", "ALIF", "Izhikevich", "AdEx", "BatchNormTT",
            "GradedSpikes", "AssociativeLeaky",
        ),
    },
    {
        "distribution": "snn-viz",
        "package": "snn_viz",
        "extra": "viz",
        "folder": "plugins/snn_viz",
        "tests": "tests/viz",
        "summary": "plots and animations with matplotlib (snncore.viz)",
        "provides": {},
        "classes": (),
    },
    {
        "distribution": "snn-nir",
        "package": "snn_nir",
        "extra": "nir",
        "folder": "plugins/snn_nir",
        "tests": "tests/nir",
        "summary": "NIR export and import",
        "provides": {},
        "classes": (),
    },
    {
        "distribution": "snn-ipu",
        "package": "snn_ipu",
        "extra": "ipu",
        "folder": "plugins/snn_ipu",
        "tests": "tests/ipu",
        "summary": "Graphcore IPU backend through poptorch",
        "provides": {"backend": ("ipu",)},
        "classes": (),
    },
    {
        "distribution": "snn-compat",
        "package": "snn_compat",
        "extra": "compat",
        "folder": "plugins/snn_compat",
        "tests": "tests/compat",
        "summary": "snnTorch's API on snncore (snn_compat.snntorch)",
        "provides": {},
        "classes": (),
    },
)


def by_extra(extra):
    """The catalogue entry whose ``extra`` is ``extra``, or None."""
    for plugin in PLUGINS:
        if plugin["extra"] == extra:
            return plugin
    return None


def install_command(plugin):
    """The pip command that installs ``plugin`` (a catalogue entry)."""
    return 'pip install "snncore[' + plugin["extra"] + ']"'
