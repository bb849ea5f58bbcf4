"""Face alignment before projection: FFHQ's oriented crop (`align`), MTCNN
landmarks (`detector`) and the `Aligner` service."""
