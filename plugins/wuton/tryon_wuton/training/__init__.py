"""Everything that trains WUTON networks (000 §4.3.3, App. E), one module per train verb, named after its task.

* :mod:`.parser` — the human parser ``h`` (``tryon train wuton-parser``);
* :mod:`.teacher` — T-WUTON (``tryon train wuton-teacher``, 000 §4.3.3.2);
* :mod:`.student` — S-WUTON distilled from a teacher run (``tryon train wuton-student``, 000 §4.3.3.3);
* :mod:`.config` — the three runs' settings (torch-free; the CLI options are generated from them), each entry
  point taking ``(TrainConfig, TaskConfig)``;
* :mod:`.batches` — datasets and batch tensors the three share; :mod:`.objectives` — the perceptual and
  adversarial terms the teacher and the student share.

Every step goes through :class:`tryon.train.Trainer` (``autocast`` / ``backward`` / ``optimizer_step``: AMP,
gradient clipping and DDP) and every run through :func:`tryon.train.run`. Inference code (pipelines,
models, the agnostic person) never imports this package. The entry points resolve lazily from here:
``from tryon_wuton.training import train_teacher, TeacherTaskConfig`` works.
"""

from tryon.imports import lazy_exports

_EXPORTS = {
    "PARSER_LOOP": "config", "TEACHER_LOOP": "config", "STUDENT_LOOP": "config", "ParserTaskConfig": "config",
    "TeacherTaskConfig": "config", "StudentTaskConfig": "config", "train_parser": "parser",
    "train_teacher": "teacher", "distill_student": "student",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
