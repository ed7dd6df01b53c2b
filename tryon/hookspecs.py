"""The plugin contract (pluggy, project name ``"tryon"``): the hooks a plugin may implement.

A plugin is any importable module or package exposed under the entry-point group ``tryon.plugins`` (or
registered in-process with ``tryon.plugins.get_manager().register(obj, name=...)``) that implements some of
these hooks with :data:`tryon.hookimpl`. Hooks are additive: new hooks and new keyword arguments may appear;
existing ones keep their meaning. Every hook receives keyword arguments only, so an implementation may accept a
subset of them.

How the core calls them (:class:`tryon.plugins.PluginManager`):

* **Lazily, once per registry.** The four ``tryon_register_<kind>`` hooks fill one registry each. A registry is
  built the first time it is needed in the process (``tryon.list_tasks()``, ``tryon.load(...)``,
  ``tryon.sampling.get_sampler(...)``, ``tryon tasks``, ``tryon plugins`` …), by calling its hook once per plugin;
  it is rebuilt (the hook called again) after a plugin is registered later or the manager is reset.
  ``tryon_register_cli`` is called each time the command line is built (every ``tryon`` invocation).
* **Plugin by plugin**, in registration order (entry points sorted by name), with the same registry or app
  object. The registry knows which plugin is calling, so a spec's ``plugin`` field is filled in for it.
* **Failures are the plugin's own.** An implementation that raises is recorded as a failure of its plugin
  (``tryon plugins`` lists it; ``tryon tasks`` warns) and the other plugins go on; what it registered before
  raising stays registered. :class:`tryon.errors.DuplicateNameError` (a name two plugins registered) is not
  swallowed: it reaches the caller, naming both plugins.
* **Return values are ignored.** Implementations register through the object they are given and return
  ``None``.
* **Keep hook modules import-light.** Registering must not import torch or model code (``tryon tasks`` and
  ``tryon --help`` stay fast): point factories at :func:`tryon.lazy` strings and import heavy modules inside
  CLI ``run`` functions.
"""

from __future__ import annotations

import pluggy

PROJECT = "tryon"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def tryon_register_tasks(registry):
    """Register the plugin's tasks (what ``tryon.load``, ``tryon run``, ``tryon export`` and ``tryon bench`` serve).

    Called the first time the task registry is used in the process — ``tryon.list_tasks()``,
    ``tryon.get_task(name)``, ``tryon.load(name, ...)``, ``Pipeline.save_pretrained`` (which records the task),
    ``tryon tasks`` — and again when the registry is rebuilt after a plugin is added.

    :param registry:
        A :class:`tryon.registry.TaskRegistry`. Call ``registry.register(spec)`` once per task with a
        :class:`tryon.TaskSpec`; anything else raises :class:`tryon.errors.PluginError`. ``spec.factory`` must be
        callable (:func:`tryon.lazy` keeps registration free of torch) and ``factory(**config)`` must return a
        :class:`tryon.Pipeline`. A task name another plugin registered raises
        :class:`tryon.errors.DuplicateNameError`. ``registry.names()``, ``registry.get(name)`` and
        ``name in registry`` read what is registered so far (earlier plugins only).

    :return: ``None`` (ignored).

    Example::

        @tryon.hookimpl
        def tryon_register_tasks(registry):
            registry.register(tryon.TaskSpec(
                name="my-task", summary="what it does, one line",
                factory=tryon.lazy("tryon_myplugin.pipeline:MyPipeline"),
                inputs=("image", "mask"), outputs=("image",)))
    """


@hookspec
def tryon_register_datasets(registry):
    """Register dataset readers (what ``tryon datasets`` lists and training code looks up by name).

    Called the first time the dataset registry is used in the process (``tryon.plugins.datasets()``,
    ``tryon datasets``, ``tryon plugins``) and again when the registry is rebuilt after a plugin is added.

    :param registry:
        A :class:`tryon.registry.DatasetRegistry`. Call ``registry.register(spec)`` once per reader with a
        :class:`tryon.DatasetSpec` whose ``factory(root, **options)`` returns a map-style dataset (``len`` and
        indexing); ``spec.meta`` holds facts worth listing (e.g. the folder layout read). A non-callable factory
        raises :class:`tryon.errors.PluginError`; a name another plugin registered raises
        :class:`tryon.errors.DuplicateNameError`.

    :return: ``None`` (ignored).

    Example::

        @tryon.hookimpl
        def tryon_register_datasets(registry):
            registry.register(tryon.DatasetSpec(
                "my-folder", summary="images + masks in two folders",
                factory=tryon.lazy("tryon_myplugin.data:MyFolder"), meta={"layout": "images/ masks/"}))
    """


@hookspec
def tryon_register_samplers(registry):
    """Register samplers: strategies that turn a trained model into outputs (GAN latent rejection or
    truncation, EdiBERT token orderings …), all following :class:`tryon.sampling.Sampler`.

    Called the first time the sampler registry is used in the process (``tryon.sampling.get_sampler(name)``,
    ``tryon samplers``, ``tryon plugins``) and again when the registry is rebuilt after a plugin is added.

    :param registry:
        A :class:`tryon.registry.SamplerRegistry`. Call ``registry.register(spec)`` once per sampler with a
        :class:`tryon.SamplerSpec` whose ``family`` (a non-empty string: ``"gan"``, ``"edibert"`` …) names the
        task family it serves and whose ``factory(**options)`` returns an object with ``family`` and
        ``sample(model, request, *, seed=None) -> tryon.SampleResult``. A bad family or factory raises
        :class:`tryon.errors.PluginError`; a name another plugin registered raises
        :class:`tryon.errors.DuplicateNameError`. ``registry.for_family(family)`` lists the samplers of a family.

    :return: ``None`` (ignored).

    Example::

        @tryon.hookimpl
        def tryon_register_samplers(registry):
            registry.register(tryon.SamplerSpec(
                "keep-all", family="gan", summary="no rejection",
                factory=tryon.lazy("tryon_myplugin.samplers:KeepAll")))
    """


@hookspec
def tryon_register_metrics(registry):
    """Register extra metrics over two image collections.

    Called the first time the metric registry is used in the process (``tryon.plugins.metrics()``,
    ``tryon plugins``, which lists them) and again when the registry is rebuilt after a plugin is added.

    :param registry:
        A :class:`tryon.registry.MetricRegistry`. Call ``registry.register(spec)`` once per metric with a
        :class:`tryon.MetricSpec` whose ``fn(real, fake, **options)`` returns ``{metric name: float}``. A
        non-callable ``fn`` raises :class:`tryon.errors.PluginError`; a name another plugin registered raises
        :class:`tryon.errors.DuplicateNameError`.

    :return: ``None`` (ignored).

    Example::

        @tryon.hookimpl
        def tryon_register_metrics(registry):
            registry.register(tryon.MetricSpec(
                "mean-gap", summary="absolute difference of the mean pixel",
                fn=tryon.lazy("tryon_myplugin.metrics:mean_gap")))
    """


@hookspec
def tryon_register_cli(app):
    """Add the plugin's command-line verbs: leaves of the core's verb groups named after its tasks
    (``tryon train my-task``, ``tryon demo myplugin``, ``tryon data my-dataset``, ``tryon eval my-task``) or
    one-word top-level verbs.

    Called each time the command line is built: on every ``tryon`` invocation (``--help`` included), after the
    core's own verbs, so every plugin's ``configure`` runs each time and must import no torch.

    :param app:
        The :class:`tryon.cli.App` being built. Call
        ``app.add_command(name, help=..., run=run, configure=configure)``: ``name`` is ``"GROUP LEAF"`` with
        ``GROUP`` one of ``train``, ``demo``, ``data``, ``eval``, or one word; ``configure(parser)`` adds the
        verb's flags to its :class:`argparse.ArgumentParser`; ``run(args)`` receives the parsed
        :class:`argparse.Namespace`, may import torch, and returns the exit code (``None`` counts as 0). ``add_command`` returns
        ``False`` when the verb cannot be added (a name taken, an unknown group, a bare group name): that is
        recorded as a failure of this plugin and its other verbs stay. A ``configure`` that raises removes
        that verb only. A :class:`tryon.TryonError` (or ``OSError``, ``ValueError``, ``KeyError``) raised by ``run``
        prints one line and exits 1 (``--debug`` shows the traceback). A renamed verb keeps its former name for one
        release: ``aliases=("train old-name",)`` (or ``app.add_alias(old, new)``) makes ``tryon train old-name`` run
        it after one deprecation line on stderr; aliases are not listed and do not count as verbs.

    :return: ``None`` (ignored).

    Example::

        @tryon.hookimpl
        def tryon_register_cli(app):
            from . import cli   # import-light: torch is imported inside run_train

            app.add_command("train my-task", help="train my-task's network",
                            configure=cli.configure_train, run=cli.run_train, aliases=("train my-old-name",))
    """
