"""Why every pixel of a dataset's labels would be 'ignore', told from the values its label files hold.

Two mistakes look alike once the labels are loaded (everything is the ignore index): binary masks saved
as 0/255, and ``reduce_zero_label=True`` on labels that hold only 0. Their fixes differ, so the pre-flight
check and ``seglab check-data`` both ask here, with the values as stored in the files.
"""

from __future__ import annotations


def all_ignore_hint(raw_values: set[int], reduce_zero_label: bool, ignore_index: int, num_classes: int) -> str | None:
    """The mistake and its fix, or None when the stored values leave some pixels a class to learn."""
    if num_classes < 2:
        return None
    if ignore_index in raw_values and raw_values <= {0, ignore_index}:
        also = " and set reduce_zero_label=False" if reduce_zero_label else ""
        return (
            f"labels hold only 0 and {ignore_index}: a binary mask saved as 0/{ignore_index} makes every foreground "
            f"pixel 'ignore'. Save the foreground as 1 (e.g. label // 255){also}"
        )
    if reduce_zero_label and raw_values == {0}:
        return (
            "labels hold only 0, so every label becomes ignore after reduce_zero_label (it makes 0 'ignore'): "
            "if 0 is a class such as background, set reduce_zero_label=False in the dataset; otherwise the label "
            "files are empty (check data_prefix.seg_map_path)"
        )
    return None
