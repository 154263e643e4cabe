"""Our SimCSE losses against the authors' own ``cl_forward`` on one fixed batch of a tiny BERT.

The reference is princeton-nlp/SimCSE's ``simcse/models.py`` as shipped in the ``simcse`` sdist
on PyPI (requirements/reference.txt, installed with --no-deps). Its package ``__init__`` pulls in
scikit-learn tooling we do not need, so the one file is loaded by path; it imports under
transformers 5 (``transformers.file_utils`` still re-exports what it uses), but its ``BertForCL``
cannot be built there (it calls ``init_weights`` before ``post_init``), so ``cl_forward`` is
called on a namespace holding exactly the attributes it reads.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import BertConfig, BertModel

from distilface.train import losses
from distilface.train.model import SentenceModel


def _simcse_models():
    spec = importlib.util.find_spec("simcse")
    assert spec is not None, "install requirements/reference.txt (make setup does)"
    path = Path(next(iter(spec.submodule_search_locations))) / "models.py"
    module_spec = importlib.util.spec_from_file_location("simcse_reference_models", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("objective", ["unsup", "sup"])
@pytest.mark.parametrize("pooler", ["cls", "cls_before_pooler", "avg"])
def test_our_simcse_loss_equals_cl_forward(objective, pooler):
    ref = _simcse_models()
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        hidden_dropout_prob=0.0,  # deterministic: both sides see the same "views"
        attention_probs_dropout_prob=0.0,
    )
    args = SimpleNamespace(
        pooler_type=pooler, temp=0.05, hard_negative_weight=0.3, do_mlm=False, mlm_weight=0.1
    )
    bert = BertModel(config, add_pooling_layer=False).eval()
    # ``cl_forward(cls, encoder, ...)`` reads these attributes of its model (BertForCL itself
    # calls ``init_weights`` before transformers 5's ``post_init``, so it cannot be built)
    theirs = SimpleNamespace(
        config=config,
        model_args=args,
        pooler_type=pooler,
        pooler=ref.Pooler(pooler),
        mlp=ref.MLPLayer(config),
        sim=ref.Similarity(temp=0.05),
        device=torch.device("cpu"),
        training=False,
    )
    ours = SentenceModel(bert, pooler).eval()
    if ours.mlp is not None:
        dense = theirs.mlp.dense
        ours.mlp.load_state_dict({"0.weight": dense.weight, "0.bias": dense.bias})
    num_sent = 2 if objective == "unsup" else 3
    batch, length = 6, 9
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 100, (batch, num_sent, length), generator=g)
    mask = torch.ones_like(ids)
    mask[:, :, 6:] = torch.randint(0, 2, (batch, num_sent, 3), generator=g)  # some padding
    with torch.no_grad():
        expected = ref.cl_forward(theirs, bert, input_ids=ids, attention_mask=mask).loss
        flat = {
            "input_ids": ids.transpose(0, 1).reshape(-1, length),  # view-major, as our loop
            "attention_mask": mask.transpose(0, 1).reshape(-1, length),
        }
        z = ours(flat)
        if objective == "unsup":
            got = losses.simcse_unsup_loss(z[:batch], z[batch:], 0.05)
        else:
            got = losses.simcse_sup_loss(
                z[:batch], z[batch : 2 * batch], z[2 * batch :], 0.05, hard_negative_weight=0.3
            )
    assert got.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-6)
