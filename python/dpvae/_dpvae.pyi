"""Type stubs of the Rust extension module (crates/dpvae-python)."""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

__version__: str

class Dataset:
    """Expression, names and coordinates of one section, as dpvae sees them."""

    @staticmethod
    def dense(
        x: np.ndarray,
        obs_names: List[str],
        var_names: List[str],
        spatial: Optional[np.ndarray] = None,
    ) -> "Dataset": ...
    @staticmethod
    def sparse(
        format: str,
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        shape: Tuple[int, int],
        obs_names: List[str],
        var_names: List[str],
        spatial: Optional[np.ndarray] = None,
    ) -> "Dataset": ...
    @property
    def shape(self) -> Tuple[int, int]: ...

class Model:
    """A trained dp-VAE ensemble with its preprocessing and placement record."""

    def save(self, dir: str, overwrite: bool = False) -> None: ...
    def place(
        self, query: Dataset, seed: Optional[int] = None, allow_missing_genes: bool = False
    ) -> Dict[str, Any]: ...
    @property
    def genes(self) -> List[str]: ...
    @property
    def n_members(self) -> int: ...
    @property
    def train_config(self) -> str: ...

def fit(
    reference: Dataset,
    protocol: str,
    params: Dict[str, Any],
    shared_genes: Optional[Sequence[str]] = None,
    progress: Optional[Callable[[str, Dict[str, Any]], None]] = None,
    shared_with: Optional[Dataset] = None,
) -> Tuple[Model, Dict[str, List[float]]]: ...
def load(dir: str) -> Model: ...
def transfer_labels(
    reference: np.ndarray,
    labels: Sequence[str],
    placed: np.ndarray,
    radius_50: Optional[Sequence[float]] = None,
) -> Tuple[List[str], np.ndarray]: ...
def procrustes(truth: np.ndarray, estimate: np.ndarray) -> Dict[str, Any]: ...
def autocorrelation(
    coords: np.ndarray,
    values: np.ndarray,
    names: List[str],
    k: int = 5,
    weights: str = "binary",
    n_perms: int = 0,
    seed: int = 0,
) -> Dict[str, List[Any]]: ...
def distance_correlation(
    x: np.ndarray,
    coords: np.ndarray,
    confidence_level: float = 0.95,
    n_perms: int = 0,
    max_spots: Optional[int] = 3000,
    seed: int = 0,
) -> Dict[str, Any]: ...
