"""Everything that exists only for a run over several processes (`train.py --distributed`).

Each process owns a contiguous block of the trials (`Placement.seeds`), makes, steps and saves
only those, and the processes agree on a few host values (the step to resume from).
"""

import asyncio

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from orbax.checkpoint._src.serialization import ocdbt_utils
from orbax.checkpoint._src.serialization import tensorstore_utils as ts_utils


def global_arrays(tree, sharding, num_seeds: int):
    """This process's seed rows of `tree` -> global arrays with a leading axis of `num_seeds`."""
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(
            sharding, np.asarray(x), (num_seeds,) + np.shape(x)[1:]
        ),
        tree,
    )


def local_rows(tree, num_seeds: int):
    """Inverse of `global_arrays`: NumPy arrays of this process's seed rows."""

    def rows(x):
        if isinstance(x, np.ndarray):  # already this process's rows (e.g. warm-up actions)
            return x
        shards = {s.index[0].indices(num_seeds)[0]: s.data for s in x.addressable_shards}
        return np.concatenate([np.asarray(shards[start]) for start in sorted(shards)])

    return jax.tree.map(rows, tree)


def all_processes(values: list[int | None]) -> list[int | None]:
    """Every process's `values` (lists of one length), concatenated in process order: what a
    decision that all processes must take alike (the step to resume from) is taken on."""
    if jax.process_count() == 1:
        return values
    encoded = np.asarray([-1 if v is None else v for v in values])
    gathered = multihost_utils.process_allgather(encoded).reshape(-1)
    return [None if v < 0 else int(v) for v in gathered]


class _OwnedNumpyHandler(ocp.type_handlers.NumpyHandler):
    """Orbax's NumPy handler writes only in process 0: it takes host arrays for copies replicated in
    every process. A seed's arrays live only in the process that owns the seed, which writes them."""

    async def _background_serialize(self, values, infos, args):
        writes = []
        for value, info, arg in zip(values, infos, args):
            await info.await_path_creation()
            spec = ts_utils.build_array_write_spec(
                info=info,
                arg=arg,
                global_shape=value.shape,
                local_shape=value.shape,
                dtype=value.dtype,
                use_ocdbt=info.is_ocdbt_checkpoint,
                process_index=ocdbt_utils.get_process_index_for_subdir(
                    use_ocdbt=info.is_ocdbt_checkpoint,
                    override_ocdbt_process_id=self._override_ocdbt_process_id,
                ),
                metadata_key=self._metadata_key,
            )
            writes.append(self._open_and_write(value, spec.json, info.ts_context))
        await asyncio.gather(*writes)


def this_process_only(items: dict[str, str]) -> tuple[ocp.options.MultiprocessingOptions, dict]:
    """Options and item handlers ("pytree" or "json" per item name) for checkpoints that one
    process alone saves and restores: no other process joins them, and this one writes them
    (Orbax's default is all processes, with only process 0 writing). With one process they
    behave as Orbax's own; the checkpoint format is the same either way."""
    this_process = ocp.options.MultiprocessingOptions(
        primary_host=jax.process_index(), active_processes={jax.process_index()}
    )
    # jax.Array is never saved (the state is saved as host arrays); Orbax warns without a handler.
    arrays = ocp.type_handlers.create_type_handler_registry(
        (np.ndarray, _OwnedNumpyHandler()), (jax.Array, ocp.type_handlers.ArrayHandler())
    )
    handlers = {
        "pytree": lambda: ocp.PyTreeCheckpointHandler(
            multiprocessing_options=this_process, type_handler_registry=arrays
        ),
        "json": lambda: ocp.JsonCheckpointHandler(multiprocessing_options=this_process),
    }
    return this_process, {name: handlers[kind]() for name, kind in items.items()}
