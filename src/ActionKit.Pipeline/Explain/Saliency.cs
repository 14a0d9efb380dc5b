using ActionKit.Engine;

namespace ActionKit.Pipeline.Explain;

/// <summary>How a saliency map is made.</summary>
public enum SaliencyMethod
{
    /// <summary>Grad-CAM: a layer's activations weighted by the logit's gradient averaged per channel.</summary>
    GradCam,

    /// <summary>The magnitude of the logit's gradient with respect to the clip's pixels.</summary>
    Gradient,
}

/// <summary>
/// Saliency of one clip's logit from a layer's output and the gradient of the logit with respect to it (the engine's
/// backward after an evaluation-mode forward of a batch of one clip). Maps come at the layer's resolution [T', H', W'].
/// </summary>
public static class Saliency
{
    /// <summary>The method's name on the command line and in reports: gradcam or gradient.</summary>
    public static string Name(SaliencyMethod method) => method == SaliencyMethod.GradCam ? "gradcam" : "gradient";

    /// <summary>
    /// Grad-CAM over space and time (Selvaraju et al., ICCV 2017, with time as one more axis): α_c = mean over
    /// (t, h, w) of ∂logit/∂A[t, h, w, c], map = ReLU(Σ_c α_c A[.., c]), for a layer's output A [1, T, H, W, C] and
    /// the logit's <paramref name="gradient"/> with respect to it.
    /// </summary>
    public static SaliencyVolume GradCam(Tensor output, float[] gradient)
    {
        var activations = output.ToArray();
        int channels = output.Dim(-1), positions = activations.Length / channels;
        var weights = new double[channels];
        for (int p = 0; p < positions; p++)
            for (int c = 0; c < channels; c++)
                weights[c] += gradient[p * channels + c];
        var map = new float[positions];
        for (int p = 0; p < positions; p++)
        {
            double sum = 0;
            for (int c = 0; c < channels; c++)
                sum += weights[c] / positions * activations[p * channels + c];
            map[p] = (float)Math.Max(0, sum);
        }
        return new SaliencyVolume(output.Dim(1), output.Dim(2), output.Dim(3), map);
    }

    /// <summary>
    /// Gradient saliency (Simonyan et al., 2014): max over RGB of |∂logit/∂pixel| at each pixel of a clip [1, T, S, S, 3],
    /// from the logit's <paramref name="gradient"/> with respect to the clip.
    /// </summary>
    public static SaliencyVolume Gradient(Tensor clip, float[] gradient)
    {
        var map = new float[gradient.Length / 3];
        for (int p = 0; p < map.Length; p++)
            map[p] = Math.Max(Math.Abs(gradient[3 * p]), Math.Max(Math.Abs(gradient[3 * p + 1]), Math.Abs(gradient[3 * p + 2])));
        return new SaliencyVolume(clip.Dim(1), clip.Dim(2), clip.Dim(3), map);
    }
}
