using System.Text.RegularExpressions;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Stages;
using YamlDotNet.RepresentationModel;

namespace ActionKit.Pipeline.Tests;

/// <summary>dvc.yaml declares the same stages as the C# definitions, so the two cannot drift apart.</summary>
public sealed partial class DvcYamlTests
{
    private readonly string repository = ParamsLoaderTests.FindRepositoryRoot();

    [Fact]
    public void Dvc_yaml_matches_the_stage_definitions()
    {
        var parameters = ParamsLoader.Load(Path.Combine(repository, ParamsLoader.FileName), []);
        var context = new PipelineContext(repository, parameters);
        var dvcStages = ReadStages(parameters);
        var graph = StageGraph.Default;
        Assert.Equal(graph.Stages.Select(s => s.Name), dvcStages.Keys);

        foreach (var stage in graph.Stages)
        {
            var declared = stage.Declare(context);
            var dvc = dvcStages[stage.Name];
            string task = char.ToUpperInvariant(stage.Name[0]) + stage.Name[1..];
            Assert.Equal($"./build.sh --target={task} --exclusive", dvc.Cmd);
            Assert.Equal(declared.Inputs.Select(context.DisplayPath).Order(), dvc.Deps.Order());
            Assert.Equal(declared.Params.Order(), dvc.Params.Order());
            Assert.Equal(declared.Outputs.Select(o => context.DisplayPath(Path.Combine(declared.Home, o))).Order(), dvc.Outs.Order());
            foreach (string upstream in declared.Upstream)
            {
                var upstreamOuts = dvcStages[upstream].Outs;
                Assert.True(dvc.Deps.Any(dep => upstreamOuts.Any(o => dep == o || dep.StartsWith(o + "/", StringComparison.Ordinal))),
                    $"{stage.Name} depends on {upstream} but none of its dvc.yaml deps is one of {upstream}'s outs");
            }
        }
    }

    [Fact]
    public void Build_cake_has_one_task_per_stage_calling_its_verb()
    {
        string script = File.ReadAllText(Path.Combine(repository, "build", "build.cake"));
        foreach (var stage in StageGraph.Default.Stages)
        {
            string task = char.ToUpperInvariant(stage.Name[0]) + stage.Name[1..];
            Assert.Matches($"Task\\(\"{task}\"\\)[^;]*\\.Does\\(\\(\\) => Actionkit\\(\"{stage.Name}\"(, \\w+)?\\)\\)", script);
        }
    }

    private Dictionary<string, DvcStage> ReadStages(PipelineParams parameters)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(repository, "dvc.yaml"))));
        var stages = (YamlMappingNode)((YamlMappingNode)stream.Documents[0].RootNode)["stages"];
        return stages.Children.ToDictionary(
            pair => ((YamlScalarNode)pair.Key).Value!,
            pair =>
            {
                var stage = (YamlMappingNode)pair.Value;
                List<string> List(string key) => stage.Children.TryGetValue(key, out var node)
                    ? [.. ((YamlSequenceNode)node).Children.Select(item => Substitute(((YamlScalarNode)item).Value!, parameters))]
                    : [];
                return new DvcStage(((YamlScalarNode)stage["cmd"]).Value!, List("deps"), List("params"), List("outs"));
            });
    }

    /// <summary>DVC's templating: ${data.root} is params.yaml's value.</summary>
    private static string Substitute(string text, PipelineParams parameters) =>
        Placeholder().Replace(text, match => ParamsLoader.Select(parameters, match.Groups[1].Value)!.GetValue<object>().ToString()!);

    [GeneratedRegex(@"\$\{([a-z_.]+)\}")]
    private static partial Regex Placeholder();

    private sealed record DvcStage(string Cmd, List<string> Deps, List<string> Params, List<string> Outs);
}
