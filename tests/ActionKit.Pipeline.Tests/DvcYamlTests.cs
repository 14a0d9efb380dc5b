using System.Text.RegularExpressions;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Stages;
using YamlDotNet.RepresentationModel;

namespace ActionKit.Pipeline.Tests;

/// <summary>dvc.yaml declares the same stages as the C# definitions (inputs, code, params, outputs), so the two cannot drift apart.</summary>
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
            // DVC's deps are the inputs, the code the stage runs (CodeIndex units as project paths) and, standing
            // for the package versions, Directory.Packages.props.
            var code = declared.Code.Select(CodePath).ToList();
            Assert.All(code, path => Assert.True(File.Exists(Path.Combine(repository, path)) || Directory.Exists(Path.Combine(repository, path)), path));
            string[] packages = declared.Packages.Count > 0 ? ["Directory.Packages.props"] : [];
            AssertCovers(dvc.Deps, declared.Inputs.Select(context.DisplayPath).Concat(code).Concat(packages), $"{stage.Name} deps");
            Assert.Equal(declared.Params.Order(), dvc.Params.Order());
            AssertCovers(dvc.Outs, declared.Outputs.Select(o => context.DisplayPath(Path.Combine(declared.Home, o))), $"{stage.Name} outs");
            foreach (string upstream in declared.Upstream)
            {
                var upstreamOuts = dvcStages[upstream].Outs;
                Assert.True(dvc.Deps.Any(dep => upstreamOuts.Any(o => dep == o || dep.StartsWith(o + "/", StringComparison.Ordinal))),
                    $"{stage.Name} depends on {upstream} but none of its dvc.yaml deps is one of {upstream}'s outs");
            }
        }
    }

    /// <summary>
    /// A load_from checkpoint enters Build's key by its content; DVC cannot declare a dependency that only exists when
    /// a param is set, so dvc.yaml's build stage sees it through its params (train, which holds load_from).
    /// </summary>
    [Fact]
    public void Build_hashes_the_load_from_checkpoint_and_dvc_sees_it_through_params_train()
    {
        var parameters = ParamsLoader.Load(Path.Combine(repository, ParamsLoader.FileName), [new ParamOverride("train.load_from", "pretrained/x3d.pth", "--load-from")]);
        var context = new PipelineContext(repository, parameters);
        var declared = StageGraph.Default["build"].Declare(context);
        Assert.Contains(Path.Combine(repository, "pretrained", "x3d.pth"), declared.Inputs);
        Assert.Equal("pretrained/x3d.pth", context.ResolveTemplate().LoadFrom);
        Assert.Contains("train", ReadStages(parameters)["build"].Params);
        Assert.Contains("load_from", File.ReadAllText(Path.Combine(repository, "dvc.yaml")));
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

    /// <summary>
    /// Each declared path is a dvc.yaml entry or lies in a folder that is one, and each entry covers a declared path.
    /// DVC's templating cannot derive Convert's per-dataset folder (data/cvat/NAME-splitK-SOURCE) from data.root, so
    /// dvc.yaml names data/cvat, the folder holding every dataset's.
    /// </summary>
    private static void AssertCovers(List<string> entries, IEnumerable<string> declaredPaths, string what)
    {
        var covering = declaredPaths.Select(path =>
            entries.SingleOrDefault(entry => path == entry || path.StartsWith(entry + "/", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"{what}: dvc.yaml has no entry for {path} (entries: {string.Join(", ", entries)})")).ToHashSet();
        Assert.True(covering.SetEquals(entries), $"{what}: dvc.yaml lists {string.Join(", ", entries.Except(covering))}, which the stage does not declare");
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
                    ? [.. ((YamlSequenceNode)node).Children.Select(item => Substitute(PathOf(item), parameters))]
                    : [];
                return new DvcStage(((YamlScalarNode)stage["cmd"]).Value!, List("deps"), List("params"), List("outs"));
            });
    }

    /// <summary>A code unit's path in the repository: ActionKit.Pipeline/Training is src/ActionKit.Pipeline/Training.</summary>
    private static string CodePath(string unit)
    {
        string assembly = unit.Split('/')[0];
        return CodeKeyTests.ProjectFolder(assembly) + unit[assembly.Length..];
    }

    /// <summary>An entry is a path, or a path with options (<c>- data/cvat: {persist: true}</c>).</summary>
    private static string PathOf(YamlNode item) =>
        item is YamlMappingNode options ? ((YamlScalarNode)options.Children.Single().Key).Value! : ((YamlScalarNode)item).Value!;

    /// <summary>DVC's templating: ${data.root} is params.yaml's value.</summary>
    private static string Substitute(string text, PipelineParams parameters) =>
        Placeholder().Replace(text, match => ParamsLoader.Select(parameters, match.Groups[1].Value)!.GetValue<object>().ToString()!);

    [GeneratedRegex(@"\$\{([a-z_.]+)\}")]
    private static partial Regex Placeholder();

    private sealed record DvcStage(string Cmd, List<string> Deps, List<string> Params, List<string> Outs);
}
